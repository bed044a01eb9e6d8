// Causal linear attention with decay (Lightning Attention, mechanism D2;
// examples/linear/lightning.mlir without its output norm), S=65536: the
// backward's growth from S=8192 to 65536 (chunked forward and backward,
// attn-linearize). Feature map swish on q and k (linalg, differentiated by
// attn-grad with the rest); per-head decay lambda_h = exp(-2^-(h+1) / 2),
// a constant of the program, so the gradients are dq, dk, dv.
// fp32, B=1, H=8, D=64; bench/run.py --grad times @linear65536_grad.

#id4 = affine_map<(b, h, s, d) -> (b, h, s, d)>
#id1 = affine_map<(h) -> (h)>

func.func @linear65536(%q: tensor<1x8x65536x64xf32>, %k: tensor<1x8x65536x64xf32>, %v: tensor<1x8x65536x64xf32>)
    -> tensor<1x8x65536x64xf32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x8x65536x64xf32>
  // Swish (SiLU): x * sigmoid(x).
  %sq = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x8x65536x64xf32>) outs(%e : tensor<1x8x65536x64xf32>) {
    ^bb0(%x: f32, %o: f32):
      %n = arith.negf %x : f32
      %x1 = math.exp %n : f32
      %d = arith.addf %one, %x1 : f32
      %y = arith.divf %x, %d : f32
      linalg.yield %y : f32
  } -> tensor<1x8x65536x64xf32>
  %sk = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x8x65536x64xf32>) outs(%e : tensor<1x8x65536x64xf32>) {
    ^bb0(%x: f32, %o: f32):
      %n = arith.negf %x : f32
      %x1 = math.exp %n : f32
      %d = arith.addf %one, %x1 : f32
      %y = arith.divf %x, %d : f32
      linalg.yield %y : f32
  } -> tensor<1x8x65536x64xf32>
  // lambda_h = exp(-s_h / 2), s_h = 2^(-8 (h + 1) / H) = 2^-(h + 1).
  %li = tensor.empty() : tensor<8xf32>
  %lambda = linalg.generic {indexing_maps = [#id1], iterator_types = ["parallel"]}
      outs(%li : tensor<8xf32>) {
    ^bb0(%o: f32):
      %h = linalg.index 0 : index
      %hi = arith.index_cast %h : index to i32
      %hf = arith.sitofp %hi : i32 to f32
      %h1 = arith.addf %hf, %one : f32
      %m1 = arith.constant -1.0 : f32
      %x = arith.mulf %h1, %m1 : f32
      %slope = math.exp2 %x : f32
      %half = arith.constant -0.5 : f32
      %y = arith.mulf %slope, %half : f32
      %l = math.exp %y : f32
      linalg.yield %l : f32
  } -> tensor<8xf32>
  %a = attn.linear_aggregate %sq, %sk, %v decay(%lambda) {causal}
      : tensor<1x8x65536x64xf32>, tensor<1x8x65536x64xf32>, tensor<1x8x65536x64xf32>, tensor<8xf32> -> tensor<1x8x65536x64xf32>
  return %a : tensor<1x8x65536x64xf32>
}
