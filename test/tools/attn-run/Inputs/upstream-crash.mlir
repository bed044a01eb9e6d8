// A linalg.broadcast with nothing after `dimensions =`: MLIR 22's parser
// crashes on it (not attn code). The tools turn the crash into one line.
func.func @f(%a: tensor<4xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %r = linalg.broadcast ins(%a : tensor<4xf32>) outs(%b : tensor<4x8xf32>) dimensions = 
  return %r : tensor<4x8xf32>
}
