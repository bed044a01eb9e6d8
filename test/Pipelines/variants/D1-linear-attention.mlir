// D1 — linear attention: `attn.feature_map` then `attn.linear_aggregate`:
// elu_plus_one {normalize} and {causal, normalize}, relu {causal, normalize},
// exp on inputs scaled by 0.25 (linalg.generic), identity without normalize
// (non-causal and causal). Sq = 37 < Skv = 45, and causal Sq = 45 > Skv = 29
// (rows i < 16 have no key: output 0). GQA Hq = 4, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=401 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=401 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=402 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=402 --check | FileCheck %s
// CHECK: max_abs_err=

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>

func.func @linear(%q: tensor<1x4x37x24xf32>, %k: tensor<1x2x45x24xf32>, %v: tensor<1x2x45x20xf32>,
                  %qc: tensor<1x4x45x24xf32>, %kc: tensor<1x2x29x24xf32>, %vc: tensor<1x2x29x20xf32>)
    -> (tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>,
        tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x45x20xf32>) {
  // elu + 1.
  %fq = attn.feature_map elu_plus_one %q : tensor<1x4x37x24xf32> -> tensor<1x4x37x24xf32>
  %fk = attn.feature_map elu_plus_one %k : tensor<1x2x45x24xf32> -> tensor<1x2x45x24xf32>
  %o0 = attn.linear_aggregate %fq, %fk, %v {normalize} : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  %o1 = attn.linear_aggregate %fq, %fk, %v {causal, normalize} : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  // relu.
  %rq = attn.feature_map relu %q : tensor<1x4x37x24xf32> -> tensor<1x4x37x24xf32>
  %rk = attn.feature_map relu %k : tensor<1x2x45x24xf32> -> tensor<1x2x45x24xf32>
  %o2 = attn.linear_aggregate %rq, %rk, %v {causal, normalize} : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  // exp on scaled inputs.
  %qi = tensor.empty() : tensor<1x4x37x24xf32>
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x4x37x24xf32>) outs(%qi : tensor<1x4x37x24xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.25 : f32
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x4x37x24xf32>
  %ki = tensor.empty() : tensor<1x2x45x24xf32>
  %ks = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k : tensor<1x2x45x24xf32>) outs(%ki : tensor<1x2x45x24xf32>) {
    ^bb0(%x: f32, %o: f32):
      %c = arith.constant 0.25 : f32
      %y = arith.mulf %x, %c : f32
      linalg.yield %y : f32
  } -> tensor<1x2x45x24xf32>
  %eq = attn.feature_map exp %qs : tensor<1x4x37x24xf32> -> tensor<1x4x37x24xf32>
  %ek = attn.feature_map exp %ks : tensor<1x2x45x24xf32> -> tensor<1x2x45x24xf32>
  %o3 = attn.linear_aggregate %eq, %ek, %v {normalize} : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  // identity, no normalisation (non-causal and causal).
  %iq = attn.feature_map identity %q : tensor<1x4x37x24xf32> -> tensor<1x4x37x24xf32>
  %o4 = attn.linear_aggregate %iq, %k, %v : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  %o5 = attn.linear_aggregate %iq, %k, %v {causal} : tensor<1x4x37x24xf32>, tensor<1x2x45x24xf32>, tensor<1x2x45x20xf32> -> tensor<1x4x37x20xf32>
  // Causal with Sq > Skv: the first 16 rows see no key.
  %fqc = attn.feature_map elu_plus_one %qc : tensor<1x4x45x24xf32> -> tensor<1x4x45x24xf32>
  %fkc = attn.feature_map elu_plus_one %kc : tensor<1x2x29x24xf32> -> tensor<1x2x29x24xf32>
  %o6 = attn.linear_aggregate %fqc, %fkc, %vc {causal, normalize} : tensor<1x4x45x24xf32>, tensor<1x2x29x24xf32>, tensor<1x2x29x20xf32> -> tensor<1x4x45x20xf32>
  return %o0, %o1, %o2, %o3, %o4, %o5, %o6
      : tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>,
        tensor<1x4x37x20xf32>, tensor<1x4x37x20xf32>, tensor<1x4x45x20xf32>
}
