// attn-ring: each fused attention becomes P steps over MPI_COMM_WORLD.
// RUN: attn-opt %s --attn-ring="layout=contiguous" | FileCheck %s --check-prefixes=CHECK,CONTIGUOUS
// RUN: attn-opt %s --attn-ring | FileCheck %s --check-prefixes=CHECK,ZIGZAG
// RUN: not attn-opt %s --attn-ring="layout=spiral" 2>&1 | FileCheck %s --check-prefix=LAYOUT
// LAYOUT: attn-ring: unknown layout 'spiral' (expected zigzag or contiguous)

// CHECK-LABEL: func.func @causal
// CHECK:       %[[COMM:.*]] = mpi.comm_world
// CHECK:       mpi.comm_rank(%[[COMM]])
// CHECK:       mpi.comm_size(%[[COMM]])
// The double buffers of K, V and the key ids; the own block first.
// CHECK-COUNT-2: memref.alloc() : memref<2x1x64x16xf32>
// CHECK:       memref.copy
// CHECK-COUNT-2: memref.alloc() : memref<2x1x64x16xf32>
// CHECK:       memref.copy
// CHECK-COUNT-2: memref.alloc() : memref<2x64xi32>
// CHECK:       memref.copy
// Accumulators: output 0, lse -inf.
// CHECK:       linalg.fill
// CHECK:       %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:       linalg.fill ins(%[[NINF]]
// CHECK:       scf.for %[[STEP:.*]] = %{{.*}} to %{{.*}} step
// Send the block in hand to r+1, receive the next from r-1 (tag per tensor).
// CHECK:       %[[S0:.*]] = mpi.isend(%{{.*}}, %[[TAG0:.*]], %[[NEXT:.*]], %[[COMM]])
// CHECK:       %[[R0:.*]] = mpi.irecv(%{{.*}}, %[[TAG0]], %[[PREV:.*]], %[[COMM]])
// CHECK:       bufferization.to_tensor %{{.*}} restrict
// CHECK:       mpi.isend(%{{.*}}, %{{.*}}, %[[NEXT]], %[[COMM]])
// CHECK:       mpi.irecv(%{{.*}}, %{{.*}}, %[[PREV]], %[[COMM]])
// CHECK:       mpi.isend({{.*}}) : memref<2x64xi32>
// CHECK:       mpi.irecv({{.*}}) : memref<2x64xi32>
// Zigzag: one loop over the 4 chunk pairs.
// ZIGZAG:      scf.for %{{.*}} = %{{.*}} to %c4
// Chunk pairs the mask analysis proves empty for every batch and head are
// skipped.
// CHECK:       scf.if
// ZIGZAG:      tensor.extract_slice %arg0[0, 0, %{{.*}}, 0] [2, 2, 32, 16]
// CHECK:       attn.attention softmax {{.*}} [#attn.segments, #attn.causal] ({{.*}}) positions(%{{.*}}, %{{.*}})
// CONTIGUOUS-SAME: tensor<2x2x64x16xf32>, tensor<2x1x64x16xf32>, tensor<2x1x64x16xf32> -> tensor<2x2x64x16xf32>, tensor<2x2x64xf32>
// ZIGZAG-SAME: tensor<2x2x32x16xf32>, tensor<2x1x32x16xf32>, tensor<2x1x32x16xf32> -> tensor<2x2x32x16xf32>, tensor<2x2x32xf32>
// CHECK:       attn.merge
// CONTIGUOUS:  bufferization.materialize_in_destination
// ZIGZAG:      tensor.insert_slice
// CHECK:       mpi.wait(%[[S0]])
// CHECK:       mpi.wait(%[[R0]])
// The sink logits join the normaliser once, after the loop.
// CHECK:       math.log1p
// CHECK:       return
func.func @causal(%q: tensor<2x2x64x16xf32>, %k: tensor<2x1x64x16xf32>, %v: tensor<2x1x64x16xf32>, %qs: tensor<2x64xi32>, %ks: tensor<2x64xi32>, %sk: tensor<2xf32>) -> tensor<2x2x64x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.segments, #attn.causal] (%qs, %ks : tensor<2x64xi32>, tensor<2x64xi32>) sinks(%sk : tensor<2xf32>) : tensor<2x2x64x16xf32>, tensor<2x1x64x16xf32>, tensor<2x1x64x16xf32> -> tensor<2x2x64x16xf32>
  return %o : tensor<2x2x64x16xf32>
}
