// The size options of the CPU form passes are checked; an error names the
// option. (tile-q=-4 used to fall through to the naive form and report
// "naive form needs static head counts"; tile-q=1000000000 to grow past 9 GB.)
// RUN: not attn-opt %s --attn-tile=tile-q=-4 2>&1 | FileCheck %s --check-prefix=NEG
// RUN: not attn-opt %s --attn-sparsify=tile-kv=1000000000 2>&1 | FileCheck %s --check-prefix=BIG
// RUN: not attn-opt %s --attn-to-llvm=tile-q=1000000000 2>&1 | FileCheck %s --check-prefix=PIPE
// RUN: not attn-opt %s --attn-tile=vector-width=5 2>&1 | FileCheck %s --check-prefix=VW
// RUN: not attn-opt %s --attn-tile=kv-splits=100000 2>&1 | FileCheck %s --check-prefix=SPLITS
// RUN: not attn-opt %s --attn-linearize=chunk=-1 2>&1 | FileCheck %s --check-prefix=LINEAR
// RUN: not attn-opt %s --attn-scan=chunk=5000 2>&1 | FileCheck %s --check-prefix=SCAN
// RUN: attn-opt %s --attn-tile="tile-q=1024 tile-kv=1024" | FileCheck %s --check-prefix=MAX

// NEG: error: option tile-q must be between 0 and 1024, got -4
// BIG: error: option tile-kv must be between 0 and 1024, got 1000000000
// PIPE: error: option tile-q must be between 0 and 1024, got 1000000000
// VW: error: option vector-width must be 0, 4, 8 or 16, got 5
// SPLITS: error: option kv-splits must be between 0 and 256, got 100000
// LINEAR: error: option chunk must be between 0 and 4096, got -1
// SCAN: error: option chunk must be between 0 and 4096, got 5000
// MAX-NOT: attn.attention
// MAX: scf.parallel

func.func @f(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<1x2x5x8xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal] : tensor<1x2x5x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32> -> tensor<1x2x5x8xf32>
  return %o : tensor<1x2x5x8xf32>
}
