// B7 — document / packed-sequence masking: segment_q(i) = segment_kv(j) with
// aligned causal, `[#attn.causal, #attn.segments] (%qseg, %kseg)`, ids shared
// by all heads ([B, S]) and per query head ([B, Hq, S]); attn-run feeds random
// non-decreasing ids. Self (Sq = Skv = 37) and cross (Sq = 29 < Skv = 43);
// rows whose document has no visible key are fully masked. GQA Hq = 6, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=161 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=161 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=162 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=162 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @segments(%q: tensor<2x6x37x24xf32>, %k: tensor<2x2x37x24xf32>, %v: tensor<2x2x37x20xf32>,
                    %qseg: tensor<2x37xi32>, %kseg: tensor<2x37xi32>,
                    %qh: tensor<2x6x37xi32>, %kh: tensor<2x6x37xi32>,
                    %qc: tensor<2x6x29x24xf32>, %kc: tensor<2x2x43x24xf32>, %vc: tensor<2x2x43x20xf32>,
                    %qcseg: tensor<2x6x29xi32>, %kcseg: tensor<2x6x43xi32>)
    -> (tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<2x6x37xf32>,
        tensor<2x6x37x20xf32>, tensor<2x6x29x20xf32>, tensor<2x6x29xf32>) {
  %s = attn.score %q, %k : tensor<2x6x37x24xf32>, tensor<2x2x37x24xf32> -> tensor<2x6x37x37xf32>
  // [B, S] ids + causal.
  %m0 = attn.mask %s [#attn.causal, #attn.segments] (%qseg, %kseg) : tensor<2x6x37x37xf32>, tensor<2x37xi32>, tensor<2x37xi32>
  %o0, %l0 = attn.aggregate softmax %m0, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // Per-head [B, H, S] ids + causal.
  %m1 = attn.mask %s [#attn.causal, #attn.segments] (%qh, %kh) : tensor<2x6x37x37xf32>, tensor<2x6x37xi32>, tensor<2x6x37xi32>
  %o1, %l1 = attn.aggregate softmax %m1, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>, tensor<2x6x37xf32>
  // Segments alone (bidirectional inside each document).
  %m2 = attn.mask %s [#attn.segments] (%qseg, %kseg) : tensor<2x6x37x37xf32>, tensor<2x37xi32>, tensor<2x37xi32>
  %o2 = attn.aggregate softmax %m2, %v : tensor<2x6x37x37xf32>, tensor<2x2x37x20xf32> -> tensor<2x6x37x20xf32>
  // Cross, per-head ids, Sq < Skv (some rows find no key of their document).
  %sc = attn.score %qc, %kc : tensor<2x6x29x24xf32>, tensor<2x2x43x24xf32> -> tensor<2x6x29x43xf32>
  %mc = attn.mask %sc [#attn.segments, #attn.causal] (%qcseg, %kcseg) : tensor<2x6x29x43xf32>, tensor<2x6x29xi32>, tensor<2x6x43xi32>
  %oc, %lc = attn.aggregate softmax %mc, %vc : tensor<2x6x29x43xf32>, tensor<2x2x43x20xf32> -> tensor<2x6x29x20xf32>, tensor<2x6x29xf32>
  return %o0, %l0, %o1, %l1, %o2, %oc, %lc
      : tensor<2x6x37x20xf32>, tensor<2x6x37xf32>, tensor<2x6x37x20xf32>, tensor<2x6x37xf32>,
        tensor<2x6x37x20xf32>, tensor<2x6x29x20xf32>, tensor<2x6x29xf32>
}
