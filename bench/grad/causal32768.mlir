// Causal softmax attention, S=32768: bench/run.py --grad measures the peak
// RSS of attn-run FILE --grad --bench=1 (and of the forward alone).
// fp32, B=1, H=8, D=64.
func.func @causal32768(%q: tensor<1x8x32768x64xf32>, %k: tensor<1x8x32768x64xf32>, %v: tensor<1x8x32768x64xf32>) -> tensor<1x8x32768x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x32768x64xf32>, tensor<1x8x32768x64xf32> -> tensor<1x8x32768x32768xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x8x32768x32768xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x32768x32768xf32>, tensor<1x8x32768x64xf32> -> tensor<1x8x32768x64xf32>
  return %o : tensor<1x8x32768x64xf32>
}
