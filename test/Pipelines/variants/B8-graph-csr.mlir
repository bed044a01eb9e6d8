// B8 — graph attention: j must be a neighbour of i in a CSR adjacency,
// `attn.mask [#attn.csr] (%rowptr, %cols)`, with an edge-feature bias added by
// attn.score_mod from a captured [B, Hq, Sq, Skv] tensor. attn-run draws a
// valid random adjacency: nnz = 60 of 37 x 41 (7 rows without neighbours:
// output 0, lse -inf) and a denser nnz = 900. GQA Hq = 4, Hkv = 2.
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=171 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=171 --check | FileCheck %s
// RUN: attn-run %s --pipeline=naive --random-args --seed=172 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=172 --check | FileCheck %s
// CHECK: max_abs_err=

func.func @graph(%q: tensor<2x4x37x24xf32>, %k: tensor<2x2x41x24xf32>, %v: tensor<2x2x41x20xf32>,
                 %rowptr: tensor<38xi32>, %cols: tensor<60xi32>, %edge: tensor<2x4x37x41xf32>,
                 %rowptr2: tensor<38xi32>, %cols2: tensor<900xi32>)
    -> (tensor<2x4x37x20xf32>, tensor<2x4x37xf32>, tensor<2x4x37x20xf32>, tensor<2x4x37xf32>) {
  %s = attn.score %q, %k : tensor<2x4x37x24xf32>, tensor<2x2x41x24xf32> -> tensor<2x4x37x41xf32>
  %sb = attn.score_mod %s : tensor<2x4x37x41xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %edge[%b, %h, %i, %j] : tensor<2x4x37x41xf32>
    %y = arith.addf %x, %e : f32
    attn.yield %y : f32
  }
  %m = attn.mask %sb [#attn.csr] (%rowptr, %cols) : tensor<2x4x37x41xf32>, tensor<38xi32>, tensor<60xi32>
  %o, %l = attn.aggregate softmax %m, %v : tensor<2x4x37x41xf32>, tensor<2x2x41x20xf32> -> tensor<2x4x37x20xf32>, tensor<2x4x37xf32>
  %m2 = attn.mask %sb [#attn.csr] (%rowptr2, %cols2) : tensor<2x4x37x41xf32>, tensor<38xi32>, tensor<900xi32>
  %o2, %l2 = attn.aggregate softmax %m2, %v : tensor<2x4x37x41xf32>, tensor<2x2x41x20xf32> -> tensor<2x4x37x20xf32>, tensor<2x4x37xf32>
  return %o, %l, %o2, %l2 : tensor<2x4x37x20xf32>, tensor<2x4x37xf32>, tensor<2x4x37x20xf32>, tensor<2x4x37xf32>
}
