// Tiny arguments, a 4 GiB result: the compiled code's malloc of the result
// fails under a 2 GiB address-space limit.
func.func @scores(%q: tensor<1x1x32768x1xf32>, %k: tensor<1x1x32768x1xf32>) -> tensor<1x1x32768x32768xf32> {
  %s = attn.score %q, %k : tensor<1x1x32768x1xf32>, tensor<1x1x32768x1xf32> -> tensor<1x1x32768x32768xf32>
  return %s : tensor<1x1x32768x32768xf32>
}
