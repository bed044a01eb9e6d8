// A7 — (a) attention sinks: `attn.aggregate softmax ... sinks(%sk)` (one logit
// per query head in the denominator, no value), with lse, also with causal
// Sq = 37 > Skv = 31 (rows i < 6 see no key: output 0, lse = sink logit);
// (b) ACT calibration: a score_mod multiplies chosen (head, key) columns (i1
// [Hq, Skv]) by |factor[h, j]| from a captured tensor. GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=61 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=61 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=62 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=62 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @sinks_calibration(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x31x24xf32>,
                             %v: tensor<2x2x31x20xf32>, %sk: tensor<6xf32>,
                             %chosen: tensor<6x31xi1>, %factor: tensor<6x31xf32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>,
        tensor<2x6x37xf32>, tensor<2x6x37x20xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x31x24xf32> -> tensor<2x6x37x31xf32>
  // (a) sinks, unmasked, with lse.
  %o0, %l0 = attn.aggregate softmax %s, %v sinks(%sk) : tensor<2x6x37x31xf32>, tensor<2x2x31x20xf32>, tensor<6xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // (a) sinks with aligned causal masking (rows i < 6 see no key).
  %m = attn.mask %s [#attn.causal] : tensor<2x6x37x31xf32>
  %o1, %l1 = attn.aggregate softmax %m, %v sinks(%sk) : tensor<2x6x37x31xf32>, tensor<2x2x31x20xf32>, tensor<6xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // (b) calibration of chosen (head, key) columns.
  %cal = attn.score_mod %s : tensor<2x6x37x31xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = tensor.extract %chosen[%h, %j] : tensor<6x31xi1>
    %f = tensor.extract %factor[%h, %j] : tensor<6x31xf32>
    %a = math.absf %f : f32
    %y = arith.mulf %x, %a : f32
    %r = arith.select %c, %y, %x : f32
    attn.yield %r : f32
  }
  %o2 = attn.aggregate softmax %cal, %v : tensor<2x6x37x31xf32>, tensor<2x2x31x20xf32> -> tensor<2x6x37x20xf32>
  return %o0, %l0, %o1, %l1, %o2 : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>
}
