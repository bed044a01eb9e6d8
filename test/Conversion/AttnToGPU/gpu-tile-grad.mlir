// The GPU form of attn.attention_grad (attn-gpu-tile): four gpu.launch ops
// and nothing of size Sq x Skv. Δ (softmax) one thread per row; the sinks'
// gradient one thread per head; dK and dV with blocks over (key block, K/V
// head, batch), one thread (here) per key, staging the scaled Q rows, dO
// rows, lse and Δ of each query tile of the GQA group that the mask analysis
// does not prove empty; dQ with blocks over (query tile, query head, batch),
// staging K and V tiles as the forward does.
// RUN: attn-opt %s --split-input-file --attn-gpu-tile="block-q=32 block-kv=16 row-threads=1" --canonicalize --cse > %t
// RUN: FileCheck %s --input-file=%t
// RUN: FileCheck %s --input-file=%t --check-prefix=NOSQUARE
// RUN: attn-opt %s --split-input-file --attn-gpu-tile="block-q=32 block-kv=16 row-threads=2" --canonicalize --cse | FileCheck %s --check-prefix=TWO
// attn-grad's @F_grad reaches this pattern (attn-to-nvvm's order: attn-fuse,
// attn-scan, attn-gpu-tile): the forward recomputation and four kernels.
// RUN: attn-opt %S/../../../examples/causal.mlir --attn-grad --attn-fuse --attn-scan --attn-gpu-tile | FileCheck %s --check-prefix=PIPE
// PIPE-LABEL: func.func @causal_grad
// PIPE-NOT: attn.attention_grad
// PIPE-COUNT-4: gpu.launch
// PIPE-NOT: attn.attention_grad
// PIPE: return
// NOSQUARE-NOT: 33x40
// NOSQUARE-NOT: linalg.
// NOSQUARE-NOT: attn.attention_grad
// NOSQUARE: func.func @captures

// Causal, GQA (2 query heads per K/V head), Sq = 33 < Skv = 40.
// CHECK-LABEL: func.func @causal
// CHECK: %[[DQ:.*]] = memref.alloc() : memref<1x4x33x16xf32>
// CHECK: %[[DK:.*]] = memref.alloc() : memref<1x2x40x16xf32>
// CHECK: %[[DV:.*]] = memref.alloc() : memref<1x2x40x8xf32>
// CHECK: %[[DELTA:.*]] = memref.alloc() : memref<1x4x33xf32>
// Δ: one thread per row; fully masked rows (lse -inf) get 0.
// CHECK: gpu.launch blocks({{.*}}) in (%{{[a-z0-9]+}} = %c2, %{{[a-z0-9]+}} = %c4, %{{[a-z0-9]+}} = %c1) threads({{.*}}) in (%{{[a-z0-9]+}} = %c32,
// CHECK: math.fma
// CHECK: arith.cmpf oeq, %{{.*}}, %cst
// CHECK: memref.store %{{.*}}, %[[DELTA]]
// CHECK: gpu.terminator
// dK, dV: ceil(40 / 16) key blocks x 2 K/V heads, 16 threads.
// CHECK: gpu.launch blocks(%[[KB:[a-z0-9]+]], %[[HK:[a-z0-9]+]], %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %c3, %{{[a-z0-9]+}} = %c2, %{{[a-z0-9]+}} = %c1) threads(%[[T:[a-z0-9]+]], %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %c16,
// CHECK-SAME: workgroup(%[[QS:[a-z0-9]+]] : memref<32x16xf32, #gpu.address_space<workgroup>>, %[[DOS:[a-z0-9]+]] : memref<32x8xf32, #gpu.address_space<workgroup>>, %[[LS:[a-z0-9]+]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[DS:[a-z0-9]+]] : memref<32xf32, #gpu.address_space<workgroup>>)
// The query heads of the group, then the query tiles, in order.
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args({{.*}}) -> (vector<16xf32>, vector<8xf32>)
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args({{.*}}) -> (vector<16xf32>, vector<8xf32>)
// Rows whose last aligned position precedes the block's first key are empty.
// CHECK: %[[EMPTY:.*]] = arith.cmpi slt, %{{.*}}, %{{.*}} : index
// CHECK: scf.if %[[EMPTY]] -> (vector<16xf32>, vector<8xf32>) {
// CHECK-NEXT: scf.yield
// CHECK: } else {
// CHECK: memref.store %{{.*}}, %[[QS]]
// CHECK: memref.store %{{.*}}, %[[DOS]]
// CHECK: memref.store %{{.*}}, %[[LS]]
// CHECK: memref.store %{{.*}}, %[[DS]]
// CHECK: gpu.barrier
// CHECK: vector.load %[[QS]]
// CHECK: vector.load %[[DOS]]
// CHECK: math.exp
// CHECK: math.fma %{{.*}} : vector<16xf32>
// CHECK: math.fma %{{.*}} : vector<8xf32>
// CHECK: gpu.barrier
// CHECK: vector.store %{{.*}}, %[[DK]]
// CHECK: vector.store %{{.*}}, %[[DV]]
// CHECK: gpu.terminator
// dQ: query tiles x query heads, K and V tiles staged.
// CHECK: gpu.launch blocks({{.*}}) in (%{{[a-z0-9]+}} = %c2, %{{[a-z0-9]+}} = %c4, %{{[a-z0-9]+}} = %c1) threads({{.*}}) in (%{{[a-z0-9]+}} = %c32,
// CHECK-SAME: workgroup(%[[KS:[a-z0-9]+]] : memref<16x16xf32, #gpu.address_space<workgroup>>, %[[VS:[a-z0-9]+]] : memref<16x8xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.load %[[DELTA]]
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: vector.load %[[KS]]
// CHECK: vector.load %[[VS]]
// CHECK: gpu.barrier
// CHECK: vector.store %{{.*}}, %[[DQ]]
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @causal(%q: tensor<1x4x33x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x8xf32>, %o: tensor<1x4x33x8xf32>, %do: tensor<1x4x33x8xf32>, %lse: tensor<1x4x33xf32>) -> (tensor<1x4x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x8xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<1x4x33xf32>) : tensor<1x4x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x8xf32>, tensor<1x4x33x8xf32>, tensor<1x4x33x8xf32> -> tensor<1x4x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x8xf32>
  return %dq, %dk, %dv : tensor<1x4x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x8xf32>
}

// -----

// Sinks: after Δ, one block of one thread per head sums
// -e^{sink - lse} Δ over batch and rows in order.
// CHECK-LABEL: func.func @sinks
// CHECK: %[[DSINK:.*]] = memref.alloc() : memref<4xf32>
// CHECK: gpu.launch
// CHECK: gpu.launch blocks(%[[H:[a-z0-9]+]], %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in (%{{[a-z0-9]+}} = %c4, %{{[a-z0-9]+}} = %c1, %{{[a-z0-9]+}} = %c1) threads({{.*}}) in (%{{[a-z0-9]+}} = %c1,
// CHECK: scf.for
// CHECK: scf.for
// CHECK: math.exp
// CHECK: arith.negf
// CHECK: memref.store %{{.*}}, %[[DSINK]][%[[H]]]
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @sinks(%q: tensor<2x4x33x16xf32>, %k: tensor<2x2x40x16xf32>, %v: tensor<2x2x40x8xf32>, %o: tensor<2x4x33x8xf32>, %do: tensor<2x4x33x8xf32>, %lse: tensor<2x4x33xf32>, %sk: tensor<4xf32>) -> (tensor<2x4x33x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32>, tensor<4xf32>) {
  %dq, %dk, %dv, %ds = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<2x4x33xf32>) sinks(%sk : tensor<4xf32>) : tensor<2x4x33x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32>, tensor<2x4x33x8xf32>, tensor<2x4x33x8xf32> -> tensor<2x4x33x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32> sinks(tensor<4xf32>)
  return %dq, %dk, %dv, %ds : tensor<2x4x33x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32>, tensor<4xf32>
}

// -----

// Sigmoid: no Δ and no lse, two kernels; tanh soft-capping is inlined and
// chained through its adjoint (1 - tanh^2).
// CHECK-LABEL: func.func @sigmoid_softcap
// CHECK: gpu.launch
// CHECK: math.tanh
// CHECK: math.exp
// CHECK: arith.subf %{{.*}}, %{{.*}} : f32
// CHECK: gpu.launch
// CHECK: math.tanh
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @sigmoid_softcap(%q: tensor<1x2x20x16xf32>, %k: tensor<1x2x20x16xf32>, %v: tensor<1x2x20x8xf32>, %o: tensor<1x2x20x8xf32>, %do: tensor<1x2x20x8xf32>) -> (tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>) {
  %dq, %dk, %dv = attn.attention_grad sigmoid %q, %k, %v, %o, %do [] : tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32> score_mod {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 20.0 : f32
    %y = arith.divf %x, %c : f32
    %t = math.tanh %y : f32
    %z = arith.mulf %t, %c : f32
    attn.yield %z : f32
  }
  return %dq, %dk, %dv : tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>
}

// -----

// Two threads per row and per key: each holds half of q, k, v and the
// gradients; one xor shuffle completes each dot product.
// TWO-LABEL: func.func @row_threads
// TWO: gpu.launch {{.*}} threads({{.*}}) in (%{{[a-z0-9]+}} = %c32,
// TWO: gpu.launch {{.*}} threads({{.*}}) in (%{{[a-z0-9]+}} = %c32,
// TWO: vector.load %{{.*}} : memref<1x2x40x16xf32>, vector<8xf32>
// TWO: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
// TWO: gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32 : f32
// TWO: vector.store %{{.*}} : memref<1x2x40x16xf32>, vector<8xf32>
// TWO: vector.store %{{.*}} : memref<1x2x40x16xf32>, vector<8xf32>
// TWO: gpu.launch {{.*}} threads({{.*}}) in (%{{[a-z0-9]+}} = %c64,
// TWO: gpu.shuffle  xor
// TWO: vector.store %{{.*}} : memref<1x2x33x16xf32>, vector<8xf32>
func.func @row_threads(%q: tensor<1x2x33x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>, %o: tensor<1x2x33x16xf32>, %do: tensor<1x2x33x16xf32>, %lse: tensor<1x2x33xf32>) -> (tensor<1x2x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>) {
  %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal] lse(%lse : tensor<1x2x33xf32>) : tensor<1x2x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x33x16xf32>, tensor<1x2x33x16xf32> -> tensor<1x2x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>
  return %dq, %dk, %dv : tensor<1x2x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>
}

// -----

// Captured tensors are declined (their gradients would be scattered without
// atomics): attn-decompose lowers the op.
// CHECK-LABEL: func.func @captures
// CHECK-NOT: gpu.launch
// CHECK: attn.attention_grad
func.func @captures(%q: tensor<1x2x20x16xf32>, %k: tensor<1x2x20x16xf32>, %v: tensor<1x2x20x8xf32>, %o: tensor<1x2x20x8xf32>, %do: tensor<1x2x20x8xf32>, %lse: tensor<1x2x20xf32>, %slopes: tensor<2xf32>) -> (tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>, tensor<2xf32>) {
  %dq, %dk, %dv, %dc = attn.attention_grad softmax %q, %k, %v, %o, %do [] lse(%lse : tensor<1x2x20xf32>) captures(%slopes : tensor<2xf32>) : tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32> captures(tensor<2xf32>) score_mod {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %s = tensor.extract %slopes[%h] : tensor<2xf32>
    %y = arith.addf %x, %s : f32
    attn.yield %y : f32
  }
  return %dq, %dk, %dv, %dc : tensor<1x2x20x16xf32>, tensor<1x2x20x16xf32>, tensor<1x2x20x8xf32>, tensor<2xf32>
}
