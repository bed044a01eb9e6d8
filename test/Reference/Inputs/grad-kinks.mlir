// Non-differentiable points for the finite-difference checker
// (gradient-tool.test).

// relu by maximumf: at x = 0 the rule takes the first operand (slope 1),
// which the right-hand difference confirms: a kink, skipped.
func.func @relu(%x: tensor<8xf32>) -> tensor<8xf32> {
  %z = arith.constant dense<0.0> : tensor<8xf32>
  %y = arith.maximumf %x, %z : tensor<8xf32>
  return %y : tensor<8xf32>
}

// A staircase finer than the step h: floor has slope 0 everywhere it is
// defined, but the differences see slope 1 on both sides. They disagree
// with the gradient, and the check fails.
func.func @staircase(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = arith.constant dense<1.0e8> : tensor<4xf32>
  %i = arith.constant dense<1.0e-8> : tensor<4xf32>
  %y = arith.mulf %x, %c : tensor<4xf32>
  %f = math.floor %y : tensor<4xf32>
  %r = arith.mulf %f, %i : tensor<4xf32>
  return %r : tensor<4xf32>
}
