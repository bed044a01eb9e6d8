// A9 with dynamic sparse masks: 1.5-entmax over CSR neighbours (no gather
// form for entmax: the whole-row tiled form evaluates the CSR mask per key),
// sparsemax under causal + a block mask, and 1.5-entmax over packed
// documents (segments, some rows alone in their document) — the last two
// through attn-sparsify's key-tile lists, so only listed key tiles are
// computed and the rest of the scratch stays -inf. GQA 4/2, bf16 values;
// Sq = 37, Skv = 41 (cross attention, not multiples of the tile).
//
// RUN: attn-run %s --pipeline=naive --random-args --seed=5 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=5 --check | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=6 --check --cpu-options="entmax-recompute=1" | FileCheck %s
// RUN: attn-run %s --pipeline=cpu --random-args --seed=7 --check --cpu-options="tile-q=8 tile-kv=16" | FileCheck %s
// RUN: attn-run %s --pipeline=gpu-emulated --random-args --seed=5 --check | FileCheck %s
// RUN: attn-opt %s --attn-fuse --attn-sparsify | FileCheck %s --check-prefix=LISTS
// RUN: attn-opt %s --attn-fuse --attn-gpu-tile | FileCheck %s --check-prefix=GPU
// CHECK: max_abs_err=
// The two tile-level masks become key-tile lists; the CSR one is left to
// attn-tile.
// LISTS-COUNT-1: attn.attention entmax
// LISTS-NOT: attn.attention
// The GPU forms have no entmax kernel: attn-gpu-tile hands the graph back
// (attn-decompose then lowers it to naive kernels, never the CPU form).
// GPU-NOT: attn.attention
// GPU-COUNT-3: attn.aggregate entmax

func.func @entmax_sparse(%q: tensor<2x4x37x24xf32>, %k: tensor<2x2x41x24xf32>, %v: tensor<2x2x41x20xbf16>,
                         %rowptr: tensor<38xi32>, %cols: tensor<60xi32>, %bm: tensor<2x4x7x7xi1>,
                         %qseg: tensor<2x37xi32>, %kseg: tensor<2x41xi32>)
    -> (tensor<2x4x37x20xbf16>, tensor<2x4x37x20xbf16>, tensor<2x4x37x20xbf16>) {
  %s = attn.score %q, %k : tensor<2x4x37x24xf32>, tensor<2x2x41x24xf32> -> tensor<2x4x37x41xf32>
  %m = attn.mask %s [#attn.csr] (%rowptr, %cols) : tensor<2x4x37x41xf32>, tensor<38xi32>, tensor<60xi32>
  %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<2x4x37x41xf32>, tensor<2x2x41x20xbf16> -> tensor<2x4x37x20xbf16>
  %m2 = attn.mask %s [#attn.causal, #attn.block_mask<block_q = 6, block_kv = 6>] (%bm) : tensor<2x4x37x41xf32>, tensor<2x4x7x7xi1>
  %o2 = attn.aggregate entmax %m2, %v {alpha = 2.0 : f32} : tensor<2x4x37x41xf32>, tensor<2x2x41x20xbf16> -> tensor<2x4x37x20xbf16>
  %m3 = attn.mask %s [#attn.segments] (%qseg, %kseg) : tensor<2x4x37x41xf32>, tensor<2x37xi32>, tensor<2x41xi32>
  %o3 = attn.aggregate entmax %m3, %v {alpha = 1.5 : f32} : tensor<2x4x37x41xf32>, tensor<2x2x41x20xbf16> -> tensor<2x4x37x20xbf16>
  return %o, %o2, %o3 : tensor<2x4x37x20xbf16>, tensor<2x4x37x20xbf16>, tensor<2x4x37x20xbf16>
}
