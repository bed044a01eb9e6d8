// attn-ring on attn.attention_grad (the backward ring): K and V travel as in
// the forward (tags 0, 1); each step computes the block's share with a
// positioned attention_grad, adds dK/dV into the travelling f32 buffers and
// sends them on (tags 2, 3) once the step's compute is done; after P steps
// each rank returns the buffer that holds its own block's dK and dV.
// RUN: attn-opt %s --attn-ring=layout=contiguous -canonicalize | FileCheck %s --check-prefix=CONTIG
// RUN: attn-opt %s --attn-ring -canonicalize | FileCheck %s --check-prefix=ZIGZAG

// CONTIG-LABEL: func.func @causal_grad
// CONTIG: %[[P:.*]] = arith.index_cast %size
// CONTIG: %[[STEPS:.*]] = scf.for %{{.*}} = %c0 to %[[P]] step %c1 iter_args(%[[DQ:.*]] = %{{.*}}) -> (tensor<1x2x16x8xf32>)
// CONTIG: mpi.isend(%{{.*}}, %c0_i32,
// CONTIG: mpi.irecv(%{{.*}}, %c0_i32,
// CONTIG: mpi.isend(%{{.*}}, %c1_i32,
// CONTIG: mpi.irecv(%{{.*}}, %c1_i32,
// CONTIG: %[[DK:.*]] = bufferization.to_tensor %{{.*}} restrict writable
// CONTIG: %[[DV:.*]] = bufferization.to_tensor %{{.*}} restrict writable
// CONTIG: scf.if
// CONTIG: scf.yield %[[DQ]], %[[DK]], %[[DV]]
// CONTIG: attn.attention_grad softmax %arg0, {{.*}} [#attn.causal] lse(%arg5 : tensor<1x2x16xf32>) positions(
// CONTIG: memref.copy
// CONTIG: memref.copy
// CONTIG: mpi.isend(%{{.*}}, %c2_i32,
// CONTIG: mpi.irecv(%{{.*}}, %c2_i32,
// CONTIG: mpi.isend(%{{.*}}, %c3_i32,
// CONTIG: mpi.irecv(%{{.*}}, %c3_i32,
// CONTIG-COUNT-8: mpi.wait
// CONTIG: %[[PARITY:.*]] = arith.remui %[[P]], %c2
// CONTIG: %[[EVEN:.*]] = arith.cmpi eq, %[[PARITY]], %c0
// CONTIG: %[[HOME:.*]] = arith.select %[[EVEN]]
// CONTIG: %[[DKHOME:.*]] = bufferization.to_tensor %[[HOME]]
// CONTIG: return %[[STEPS]], %[[DKHOME]], %{{.*}} :

// Zigzag: one positioned attention_grad in a loop over the 4 chunk pairs of
// 8 positions, dQ added into the query chunk, dK/dV into the key chunk.
// ZIGZAG-LABEL: func.func @causal_grad
// ZIGZAG: scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args
// ZIGZAG: attn.attention_grad softmax {{.*}} positions(%{{.*}}, %{{.*}}) : tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32> -> tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>
// ZIGZAG-COUNT-3: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, %{{.*}}, 0] [1, 2, 8, 8]
// ZIGZAG: mpi.isend(%{{.*}}, %c3_i32,
func.func @causal_grad(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %o: tensor<1x2x16x8xf32>, %do: tensor<1x2x16x8xf32>, %l: tensor<1x2x16xf32>) -> (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%l : tensor<1x2x16xf32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>
  return %dq, %dk, %dv : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>
}

// Sinks: their gradient is computed once from this rank's rows (a partial
// sum over b and i), outside the ring; captures accumulate in f32 across
// the steps.
// CONTIG-LABEL: func.func @sinks_grad
// CONTIG: scf.for
// CONTIG: attn.attention_grad softmax {{.*}} lse(%{{.*}}) positions(
// CONTIG-NOT: sinks(
// CONTIG: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CONTIG: linalg.generic {{.*}}iterator_types = ["reduction", "parallel", "reduction"]
// CONTIG: math.exp
func.func @sinks_grad(%q: tensor<1x2x16x8xf32>, %o: tensor<1x2x16x8xf32>, %l: tensor<1x2x16xf32>, %s: tensor<2xf32>) -> (tensor<1x2x16x8xf32>, tensor<2xf32>) {
  %dq, %dk, %dv, %ds = attn.attention_grad softmax %q, %q, %q, %o, %o [#attn.causal] lse(%l : tensor<1x2x16xf32>) sinks(%s : tensor<2xf32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> sinks(tensor<2xf32>)
  return %dq, %ds : tensor<1x2x16x8xf32>, tensor<2xf32>
}
