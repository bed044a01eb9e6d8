// attn-ring decode=true: keys and values sharded, queries replicated, the
// partial results merged by mpi.allreduce on every rank.
// RUN: attn-opt %s --attn-ring="decode=true" --split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @decode
// CHECK:       %[[COMM:.*]] = mpi.comm_world
// CHECK:       %[[RANK:.*]] = mpi.comm_rank(%[[COMM]])
// CHECK:       mpi.comm_size(%[[COMM]])
// The queries are the last Sq positions, the keys this rank's block.
// CHECK:       attn.attention softmax %arg0, %arg1, %arg2 [#attn.causal] positions(%{{.*}}, %{{.*}})
// CHECK-NOT:   sinks
// CHECK:       mpi.allreduce(%{{.*}}, %{{.*}}, MPI_MAX, %[[COMM]])
// CHECK:       mpi.allreduce(%{{.*}}, %{{.*}}, MPI_SUM, %[[COMM]])
// CHECK:       mpi.allreduce(%{{.*}}, %{{.*}}, MPI_SUM, %[[COMM]])
// CHECK:       math.log1p
// CHECK-NOT:   mpi.isend
// CHECK:       return
func.func @decode(%q: tensor<1x4x1x16xf32>, %k: tensor<1x2x64x16xf32>, %v: tensor<1x2x64x16xf32>, %s: tensor<4xf32>) -> (tensor<1x4x1x16xf32>, tensor<1x4x1xf32>) {
  %o, %l = attn.attention softmax %q, %k, %v [#attn.causal] sinks(%s : tensor<4xf32>) : tensor<1x4x1x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x4x1x16xf32>, tensor<1x4x1xf32>
  return %o, %l : tensor<1x4x1x16xf32>, tensor<1x4x1xf32>
}

// -----

func.func @regions(%q: tensor<1x1x1x4xf32>, %k: tensor<1x1x8x4xf32>) -> tensor<1x1x1x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot be decoded across ranks: no form for regions yet (position patterns and #attn.segments only)}}
  %o = attn.attention softmax %q, %k, %k [] : tensor<1x1x1x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x1x4xf32> mask {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return %o : tensor<1x1x1x4xf32>
}

// -----

func.func @gradient(%q: tensor<1x1x1x4xf32>, %k: tensor<1x1x8x4xf32>, %l: tensor<1x1x1xf32>) -> tensor<1x1x1x4xf32> {
  // expected-error @+1 {{'attn.attention_grad' op has no decoding form: decoding across ranks runs the forward only}}
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %k, %q, %q [] lse(%l : tensor<1x1x1xf32>) : tensor<1x1x1x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32> -> tensor<1x1x1x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>
  return %dq : tensor<1x1x1x4xf32>
}

// -----

// A block mask reads raw query indices in the global program, which differ
// from the positions of decoding's queries (the last Sq of the sequence).
func.func @block_mask(%q: tensor<1x1x2x4xf32>, %k: tensor<1x1x8x4xf32>, %bm: tensor<1x1x?x?xi1>) -> tensor<1x1x2x4xf32> {
  // expected-error @+1 {{'attn.attention' op cannot be decoded across ranks: no form for #attn.block_mask<block_q = 2, block_kv = 4> yet (position patterns and #attn.segments only)}}
  %o = attn.attention softmax %q, %k, %k [#attn.block_mask<block_q = 2, block_kv = 4>] (%bm : tensor<1x1x?x?xi1>) : tensor<1x1x2x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x1x2x4xf32>
  return %o : tensor<1x1x2x4xf32>
}
