// Lightning Attention in TransNormerLLM (Qin et al., "TransNormerLLM: A
// Faster and Better Large Language Model with Improved TransNormer", 2023;
// "Lightning Attention-2", 2024), mechanism D2 of docs/language.md.
//
// NormAttention with exponential decay: causal linear attention with no
// softmax and no denominator, each head h forgetting at its own rate
// lambda_h, followed by a normalisation of the output (RMS norm over the
// head dimension, TransNormer's SRMSNorm, no learned gain):
//   q, k       = swish(q), swish(k)              (x sigmoid(x), elementwise)
//   lambda_h   = exp(-s_h (1 - l / L)),  s_h = 2^(-8 (h + 1) / H)
//   a_i        = sum_{j <= i} lambda_h^(i - j) (q_i . k_j) v_j
//   out_i      = a_i / sqrt(mean_d a_{i,d}^2 + 1e-5)
// (ALiBi-style slopes s_h, weakened in deeper layers; l / L = 1/2 here:
// lambda = 0.8825, 0.9692, 0.9922, 0.9980). TransNormerLLM's output gate
// (sigmoid of a projection of the layer input) needs the input x and is
// left out. S = 256, H = 4, D = Dv = 32.
//
// attn ops: linalg.generic (swish on q and k; lambda_h from the head index);
// attn.linear_aggregate %q, %k, %v decay(%lambda) {causal} (no normalize:
// TransNormer normalises afterwards); linalg.generic (sum of squares over
// d, then the scaling).
// Compiled form (attn-to-llvm): attn-linearize gives the chunked O(S) form
// of Lightning Attention -- within a chunk of C positions the quadratic
// intra-chunk sum with lambda^(p - j) from a table, across chunks a
// [D, Dv] state re-based to the chunk's end (lambda^len), so no exponent
// grows with S and there is no cumulative sum over the whole sequence.
// Swish is not an attn.feature_map kind, so it runs as linalg before the
// aggregate instead of being fused on load. The RMS norm is linalg.

#id4  = affine_map<(b, h, s, d) -> (b, h, s, d)>
#id1  = affine_map<(h) -> (h)>
#row4 = affine_map<(b, h, s, d) -> (b, h, s)>

func.func @lightning(%q: tensor<1x4x256x32xf32>, %k: tensor<1x4x256x32xf32>, %v: tensor<1x4x256x32xf32>)
    -> tensor<1x4x256x32xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32

  // phi = swish (SiLU): x * sigmoid(x).
  %qi = tensor.empty() : tensor<1x4x256x32xf32>
  %sq = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x4x256x32xf32>) outs(%qi : tensor<1x4x256x32xf32>) {
    ^bb0(%x: f32, %o: f32):
      %n = arith.negf %x : f32
      %e = math.exp %n : f32
      %d = arith.addf %one, %e : f32
      %y = arith.divf %x, %d : f32
      linalg.yield %y : f32
  } -> tensor<1x4x256x32xf32>
  %sk = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x4x256x32xf32>) outs(%qi : tensor<1x4x256x32xf32>) {
    ^bb0(%x: f32, %o: f32):
      %n = arith.negf %x : f32
      %e = math.exp %n : f32
      %d = arith.addf %one, %e : f32
      %y = arith.divf %x, %d : f32
      linalg.yield %y : f32
  } -> tensor<1x4x256x32xf32>

  // Per-head decay lambda_h = exp(-s_h (1 - l / L)), s_h = 2^(-8 (h + 1) / H)
  // = 2^(-2 (h + 1)) for H = 4, and 1 - l / L = 1/2.
  %li = tensor.empty() : tensor<4xf32>
  %lambda = linalg.generic {indexing_maps = [#id1], iterator_types = ["parallel"]}
      outs(%li : tensor<4xf32>) {
    ^bb0(%o: f32):
      %h = linalg.index 0 : index
      %hi = arith.index_cast %h : index to i32
      %hf = arith.sitofp %hi : i32 to f32
      %h1 = arith.addf %hf, %one : f32
      %m2 = arith.constant -2.0 : f32     // -8 / H
      %e = arith.mulf %h1, %m2 : f32
      %slope = math.exp2 %e : f32         // s_h
      %depth = arith.constant -0.5 : f32  // -(1 - l / L)
      %x = arith.mulf %slope, %depth : f32
      %l = math.exp %x : f32
      linalg.yield %l : f32
  } -> tensor<4xf32>

  // Causal linear attention with decay, no denominator.
  %a = attn.linear_aggregate %sq, %sk, %v decay(%lambda) {causal}
      : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32>, tensor<4xf32> -> tensor<1x4x256x32xf32>

  // RMS norm over the head dimension: a / sqrt(mean_d a^2 + eps).
  %e3 = tensor.empty() : tensor<1x4x256xf32>
  %z3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x4x256xf32>) -> tensor<1x4x256xf32>
  %ss = linalg.generic {indexing_maps = [#id4, #row4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a : tensor<1x4x256x32xf32>) outs(%z3 : tensor<1x4x256xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %x2 = arith.mulf %x, %x : f32
      %s = arith.addf %acc, %x2 : f32
      linalg.yield %s : f32
  } -> tensor<1x4x256xf32>
  %out = linalg.generic {indexing_maps = [#id4, #row4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%a, %ss : tensor<1x4x256x32xf32>, tensor<1x4x256xf32>) outs(%qi : tensor<1x4x256x32xf32>) {
    ^bb0(%x: f32, %s: f32, %o: f32):
      %invd = arith.constant 0.03125 : f32   // 1 / Dv
      %eps = arith.constant 1.0e-5 : f32
      %m = arith.mulf %s, %invd : f32
      %me = arith.addf %m, %eps : f32
      %r = math.rsqrt %me : f32
      %y = arith.mulf %x, %r : f32
      linalg.yield %y : f32
  } -> tensor<1x4x256x32xf32>
  return %out : tensor<1x4x256x32xf32>
}
