// Causal softmax attention, S=4096. bench/run.py --grad times its forward
// (attn-run FILE) and its gradient (attn-run FILE --grad: @causal4096_grad,
// the forward recomputed, then the backward) against PyTorch eager
// autograd. fp32, B=1, H=8, D=64.
func.func @causal4096(%q: tensor<1x8x4096x64xf32>, %k: tensor<1x8x4096x64xf32>, %v: tensor<1x8x4096x64xf32>) -> tensor<1x8x4096x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x4096xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x8x4096x4096xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x4096x4096xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x64xf32>
  return %o : tensor<1x8x4096x64xf32>
}
