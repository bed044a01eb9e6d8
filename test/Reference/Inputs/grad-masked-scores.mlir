// Aggregations of score tensors given directly, with -inf entries (masked
// keys) and fully masked rows; used by gradient-masked-rows.test.
func.func @softmax_scores(%s: tensor<1x2x4x5xf32>, %v: tensor<1x2x5x3xf32>)
    -> (tensor<1x2x4x3xf32>, tensor<1x2x4xf32>) {
  %o, %l = attn.aggregate softmax %s, %v : tensor<1x2x4x5xf32>, tensor<1x2x5x3xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
  return %o, %l : tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
}

func.func @sigmoid_scores(%s: tensor<1x2x4x5xf32>, %v: tensor<1x2x5x3xf32>)
    -> tensor<1x2x4x3xf32> {
  %o = attn.aggregate sigmoid %s, %v : tensor<1x2x4x5xf32>, tensor<1x2x5x3xf32> -> tensor<1x2x4x3xf32>
  return %o : tensor<1x2x4x3xf32>
}

func.func @none_scores(%s: tensor<1x2x4x5xf32>, %v: tensor<1x2x5x3xf32>)
    -> tensor<1x2x4x3xf32> {
  %o = attn.aggregate none %s, %v : tensor<1x2x4x5xf32>, tensor<1x2x5x3xf32> -> tensor<1x2x4x3xf32>
  return %o : tensor<1x2x4x3xf32>
}

func.func @normalize_scores(%s: tensor<1x2x4x5xf32>) -> tensor<1x2x4x5xf32> {
  %p = attn.normalize softmax %s : tensor<1x2x4x5xf32> -> tensor<1x2x4x5xf32>
  return %p : tensor<1x2x4x5xf32>
}
