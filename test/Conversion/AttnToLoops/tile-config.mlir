// The tiled form's cost model (chooseTileConfig) follows the target CPU the
// options name, never the machine that compiles: the default target is
// x86-64 with AVX2 (8 f32 lanes) wherever the test runs.
// RUN: attn-opt %s --attn-test-tile-config | FileCheck %s --check-prefix=AVX2
// RUN: attn-opt %s --attn-test-tile-config="target-cpu=haswell" | FileCheck %s --check-prefix=AVX2
// RUN: attn-opt %s --attn-test-tile-config="target-cpu=znver4" | FileCheck %s --check-prefix=AVX512
// RUN: attn-opt %s --attn-test-tile-config="target-cpu=znver4 target-features=-avx512f" | FileCheck %s --check-prefix=AVX2
// RUN: attn-opt %s --attn-test-tile-config="target-cpu=haswell target-features=+avx512f" | FileCheck %s --check-prefix=AVX512
// RUN: attn-opt %s --attn-test-tile-config="vector-width=16 tile-q=32 tile-kv=32 kv-splits=2" | FileCheck %s --check-prefix=OPTS
// RUN: not attn-opt %s --attn-test-tile-config="target-cpu=nosuchcpu" 2>&1 | FileCheck %s --check-prefix=BADCPU
// RUN: not attn-opt %s --attn-test-tile-config="target-features=avx2" 2>&1 | FileCheck %s --check-prefix=BADFEATURES

// Prefill: query rows in vector lanes, 64 x 64 tiles.
// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=64 layout=lanes dot-width=8 out-width=8 qk-block=4x2 pv-rows=2 kv-splits=1
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=64 layout=lanes dot-width=16 out-width=16 qk-block=4x4 pv-rows=4 kv-splits=1
// OPTS: tile-config {{.*}}: vector-width=16 key-tile=32 query-tile=32 layout=lanes dot-width=16 out-width=16 qk-block=2x4 pv-rows=4 kv-splits=2
func.func @prefill(%q: tensor<1x8x512x64xf32>, %k: tensor<1x2x512x64xf32>, %v: tensor<1x2x512x64xf32>) -> tensor<1x8x512x64xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal]
         : tensor<1x8x512x64xf32>, tensor<1x2x512x64xf32>, tensor<1x2x512x64xf32> -> tensor<1x8x512x64xf32>
  return %o : tensor<1x8x512x64xf32>
}

// Decoding one token for 8 heads: dot products from the K rows, and the
// keys split in 4 so that 32 iterations keep every thread busy.
// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=4 layout=rows dot-width=8 out-width=8 qk-block=1x4 pv-rows=1 kv-splits=4
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=4 layout=rows dot-width=16 out-width=16 qk-block=1x4 pv-rows=1 kv-splits=4
func.func @decode(%q: tensor<1x8x1x128xf32>, %k: tensor<1x8x4096x128xf32>, %v: tensor<1x8x4096x128xf32>) -> tensor<1x8x1x128xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal]
         : tensor<1x8x1x128xf32>, tensor<1x8x4096x128xf32>, tensor<1x8x4096x128xf32> -> tensor<1x8x1x128xf32>
  return %o : tensor<1x8x1x128xf32>
}

// Dynamic batch and lengths: the lanes layout, no split.
// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=64 layout=lanes dot-width=8 out-width=8 qk-block=4x2 pv-rows=2 kv-splits=1
func.func @dynamic(%q: tensor<?x4x?x64xf32>, %k: tensor<?x4x?x64xf32>, %v: tensor<?x4x?x64xf32>) -> tensor<?x4x?x64xf32> {
  %o = attn.attention softmax %q, %k, %v []
         : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32> -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}

// BADCPU: error: unknown target CPU 'nosuchcpu'
// BADFEATURES: error: unknown target CPU '' or malformed target features 'avx2'

// Dv = 80 with AVX-512: 5 output vectors. Blocks of 3 rows would not divide
// the 64-row tile (the last block would write rows 64 and 65); 2 rows do.
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=64 layout=lanes dot-width=16 out-width=16 qk-block=4x4 pv-rows=2 kv-splits=1
// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=64 layout=lanes dot-width=8 out-width=8 qk-block=4x2 pv-rows=1 kv-splits=1
func.func @value_dim_80(%q: tensor<1x2x256x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x80xf32>) -> tensor<1x2x256x80xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal]
         : tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x80xf32> -> tensor<1x2x256x80xf32>
  return %o : tensor<1x2x256x80xf32>
}

// entmax needs whole rows: rows in lanes even when decoding, no key splits
// (even when asked for), and a query tile whose f32 scratch of Br x Skv
// scores stays within 2 MiB: 16 rows at Skv = 32768, 64 at 4096.
// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=8 layout=lanes {{.*}} kv-splits=1
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=16 layout=lanes {{.*}} kv-splits=1
// OPTS: tile-config {{.*}}: vector-width=16 key-tile=32 query-tile=32 layout=lanes {{.*}} kv-splits=1
func.func @entmax_decode(%q: tensor<1x8x1x64xf32>, %k: tensor<1x8x4096x64xf32>, %v: tensor<1x8x4096x64xf32>) -> tensor<1x8x1x64xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 1.5 : f32}
         : tensor<1x8x1x64xf32>, tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x1x64xf32>
  return %o : tensor<1x8x1x64xf32>
}

// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=16 layout=lanes {{.*}} kv-splits=1
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=16 layout=lanes {{.*}} kv-splits=1
func.func @entmax_long(%q: tensor<1x8x32768x64xf32>, %k: tensor<1x8x32768x64xf32>, %v: tensor<1x8x32768x64xf32>) -> tensor<1x8x32768x64xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 2.0 : f32}
         : tensor<1x8x32768x64xf32>, tensor<1x8x32768x64xf32>, tensor<1x8x32768x64xf32> -> tensor<1x8x32768x64xf32>
  return %o : tensor<1x8x32768x64xf32>
}

// AVX2: tile-config {{.*}}: vector-width=8 key-tile=64 query-tile=64 layout=lanes {{.*}} kv-splits=1
// AVX512: tile-config {{.*}}: vector-width=16 key-tile=64 query-tile=64 layout=lanes {{.*}} kv-splits=1
func.func @entmax_4k(%q: tensor<1x8x4096x64xf32>, %k: tensor<1x8x4096x64xf32>, %v: tensor<1x8x4096x64xf32>) -> tensor<1x8x4096x64xf32> {
  %o = attn.attention entmax %q, %k, %v [] {alpha = 1.5 : f32}
         : tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x64xf32>
  return %o : tensor<1x8x4096x64xf32>
}
