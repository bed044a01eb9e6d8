// A 4 GiB argument: attn-run's own allocation of it fails under a 2 GiB
// address-space limit.
func.func @f(%q: tensor<1x1x1048576x1024xf32>, %k: tensor<1x1x4x1024xf32>, %v: tensor<1x1x4x8xf32>) -> tensor<1x1x1048576x8xf32> {
  %o = attn.attention softmax %q, %k, %v [] : tensor<1x1x1048576x1024xf32>, tensor<1x1x4x1024xf32>, tensor<1x1x4x8xf32> -> tensor<1x1x1048576x8xf32>
  return %o : tensor<1x1x1048576x8xf32>
}
