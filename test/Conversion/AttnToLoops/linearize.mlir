// The chunked form of attn-linearize: per (batch, head) a [F, Dv] state and
// an [F] normaliser on the heap, a table of decay powers lambda^0..C, then
// chunks of C = 32 positions: each query reads the state (scaled by
// lambda^(p - t0 + 1)) and the chunk's keys up to itself (lambda^(p - j)),
// then the state is re-based (lambda^len) and takes the chunk's keys. The
// elementwise feature maps are applied on load (fused away); non-causal
// builds the state over all keys first.
// RUN: attn-opt %s --split-input-file --attn-linearize="chunk=32 vector-width=16" --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @decayed
// CHECK-NOT: attn.feature_map
// CHECK-NOT: attn.linear_aggregate
// CHECK: %[[STATE:.*]] = memref.alloc() : memref<1x2x16x32xf32>
// CHECK: %[[Z:.*]] = memref.alloc() : memref<1x2x16xf32>
// CHECK: scf.parallel
// CHECK: %[[POW:.*]] = memref.alloca() : memref<33xf32>
// CHECK: math.absf
// CHECK: memref.store %{{.*}}, %[[POW]]
// CHECK: scf.for %[[T0:.*]] = %c0 to %{{.*}} step %c32
// CHECK: scf.for %[[I:.*]] =
// CHECK: memref.load %[[POW]]
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, f32)
// CHECK: memref.load %[[Z]]
// CHECK: scf.for %{{.*}} = %[[T0]] to
// CHECK: vector.reduction <add>
// CHECK: memref.load %[[POW]]
// CHECK: arith.divf
// CHECK: vector.store
// Re-base, then accumulate the chunk's keys.
// CHECK: memref.load %[[POW]]
// CHECK: scf.for
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: vector.store %{{.*}}, %[[STATE]]
// CHECK: scf.for
// CHECK: memref.load %[[POW]]
// CHECK: vector.store %{{.*}}, %[[STATE]]
func.func @decayed(%q: tensor<1x2x?x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x32xf32>, %l: tensor<2xf32>) -> tensor<1x2x?x32xf32> {
  %fq = attn.feature_map elu_plus_one %q : tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %fk = attn.feature_map elu_plus_one %k : tensor<1x1x?x16xf32> -> tensor<1x1x?x16xf32>
  %o = attn.linear_aggregate %fq, %fk, %v decay(%l) {causal, normalize} : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x32xf32>, tensor<2xf32> -> tensor<1x2x?x32xf32>
  return %o : tensor<1x2x?x32xf32>
}

// -----

// Non-causal: phi(K)^T V over all keys first, then every query reads it. A
// feature map with another use stays (decomposed later), not fused.
// CHECK-LABEL: func.func @global
// CHECK: %[[FK:.*]] = attn.feature_map relu
// CHECK-NOT: attn.linear_aggregate
// CHECK: %[[STATE:.*]] = memref.alloc
// CHECK: scf.parallel
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1
// CHECK: vector.store %{{.*}}, %[[STATE]]
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1
// CHECK: vector.load %{{.*}}[{{.*}}] : memref<1x2x16x8xf32>, vector<8xf32>
// CHECK: vector.store
func.func @global(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>) -> (tensor<1x2x?x8xf32>, tensor<1x2x?x16xf32>) {
  %fk = attn.feature_map relu %k : tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  %o = attn.linear_aggregate %q, %fk, %v : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  return %o, %fk : tensor<1x2x?x8xf32>, tensor<1x2x?x16xf32>
}

// -----

// taylor2 (Based) is fused too: phi(x) = [1, x, x (x) x / sqrt(2)] is formed
// from the raw rows on load (the chunk's phi(K) once per chunk), F = 21.
// CHECK-LABEL: func.func @based
// CHECK: arith.constant 0.70710
// CHECK-NOT: attn.feature_map
// CHECK: memref.alloc() : memref<1x1x21x8xf32>
// CHECK: memref.alloca() : memref<32x21xf32>
// CHECK: scf.for {{.*}} step %c32
// CHECK: vector.store %{{.*}} : memref<32x21xf32>, vector<1xf32>
// CHECK-NOT: attn.feature_map
func.func @based(%q: tensor<1x1x?x4xf32>, %k: tensor<1x1x?x4xf32>, %v: tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32> {
  %fq = attn.feature_map taylor2 %q : tensor<1x1x?x4xf32> -> tensor<1x1x?x21xf32>
  %fk = attn.feature_map taylor2 %k : tensor<1x1x?x4xf32> -> tensor<1x1x?x21xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize} : tensor<1x1x?x21xf32>, tensor<1x1x?x21xf32>, tensor<1x1x?x8xf32> -> tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----

// random_features (Performer) is fused: phi(x) = exp(W^T x - |x|^2/2)/sqrt(F)
// per row on load -- |x|^2 in vectors over D, W^T x as a loop over the rows
// of W (a broadcast x_d times a vector of W), exp and 1/sqrt(32) -- cached
// per chunk for the keys; the [.., 32] feature tensors never exist.
// CHECK-LABEL: func.func @performer
// CHECK-NOT: attn.feature_map
// CHECK: %[[INVSQRTF:.*]] = arith.constant dense<0.176776{{[0-9]*}}> : vector<16xf32>
// CHECK: %[[W:.*]] = bufferization.to_buffer %arg3
// CHECK: memref.alloca() : memref<32x32xf32>
// CHECK: scf.for {{.*}} step %c32
// CHECK: vector.reduction <add>
// CHECK: scf.for {{.*}} -> (vector<16xf32>)
// CHECK: vector.load %[[W]][%{{.*}}, %c0] : memref<8x32xf32>, vector<16xf32>
// CHECK: arith.mulf %{{.*}}, %[[INVSQRTF]] : vector<16xf32>
// CHECK-NOT: attn.feature_map
func.func @performer(%q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x16xf32>,
                     %w: tensor<8x32xf32>) -> tensor<1x2x?x16xf32> {
  %fq = attn.feature_map random_features %q, %w : tensor<1x2x?x8xf32>, tensor<8x32xf32> -> tensor<1x2x?x32xf32>
  %fk = attn.feature_map random_features %k, %w : tensor<1x2x?x8xf32>, tensor<8x32xf32> -> tensor<1x2x?x32xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize} : tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

// -----

// D8, the recurrent state: the per-head state starts from the state operand
// (copied into the [B, H, F, Dv] state buffer), the chunks update it in
// place, and the buffer after the last chunk is the second result.
// CHECK-LABEL: func.func @recurrent
// CHECK: %[[S0:.*]] = bufferization.to_buffer %arg4 read_only : tensor<1x2x16x16xf32>
// CHECK: %[[STATE:.*]] = memref.alloc() : memref<1x2x16x16xf32>
// CHECK: scf.parallel (%[[H:.*]]) =
// CHECK: scf.for %[[F:.*]] = %c0 to %c16
// CHECK: %[[ROW:.*]] = vector.load %[[S0]][%c0, %[[H]], %[[F]], %c0]
// CHECK: vector.store %[[ROW]], %[[STATE]][%c0, %[[H]], %[[F]], %c0]
// CHECK: scf.for {{.*}} step %c32
// CHECK: vector.store %{{.*}}, %[[STATE]]
// CHECK: %[[OUT:.*]] = bufferization.to_tensor %{{.*}} : memref<1x2x?x16xf32>
// CHECK: %[[FINAL:.*]] = bufferization.to_tensor %[[STATE]]
// CHECK: return %[[OUT]], %[[FINAL]]
func.func @recurrent(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                     %l: tensor<2xf32>, %s: tensor<1x2x16x16xf32>)
    -> (tensor<1x2x?x16xf32>, tensor<1x2x16x16xf32>) {
  %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%l) state(%s : tensor<1x2x16x16xf32>) {causal}
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<2xf32> -> tensor<1x2x?x16xf32>, tensor<1x2x16x16xf32>
  return %o, %s1 : tensor<1x2x?x16xf32>, tensor<1x2x16x16xf32>
}
