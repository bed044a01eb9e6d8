// The scan form of attn-scan: attention of one broadcast query over every
// prefix (causal) becomes three phases over chunks of C keys -- (1) parallel
// over (batch, head, chunk): each key's score, stored in a [B, H, Skv]
// buffer, and the chunk's (max, denominator, numerator); (2) parallel over
// (batch, head): the exclusive scan of the chunk states, in place; (3)
// parallel over (batch, head, chunk): from the carried state, key by key,
// writing the row whose prefix ends at the key. The query is read as one row
// (the broadcast is re-emitted with a query axis of 1); Sq x Skv never
// exists. Attention that is not over prefixes of one query is left alone.
// RUN: attn-opt %s --split-input-file --attn-scan="chunk=64 vector-width=16" --canonicalize --cse | FileCheck %s

// CHECK-LABEL: func.func @aaren
// CHECK-NOT: attn.attention
// CHECK: %[[ROW:.*]] = linalg.broadcast ins(%{{.*}} : tensor<1x4x32xf32>) outs(%{{.*}} : tensor<1x4x1x32xf32>) dimensions = [2]
// CHECK: %[[Q:.*]] = bufferization.to_buffer %[[ROW]]
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<1x4x512x32xf32>
// CHECK: %[[LSE:.*]] = memref.alloc() : memref<1x4x512xf32>
// CHECK: %[[SCORES:.*]] = memref.alloc() : memref<1x4x512xf32>
// CHECK: %[[M:.*]] = memref.alloc() : memref<1x4x8xf32>
// CHECK: %[[L:.*]] = memref.alloc() : memref<1x4x8xf32>
// CHECK: %[[A:.*]] = memref.alloc() : memref<1x4x8x32xf32>
// Phase 1: scores and the chunk's own state.
// CHECK: scf.parallel (%[[H1:.*]], %[[C1:.*]]) = {{.*}} to (%c4, %c8)
// CHECK: vector.load %[[Q]][%c0, %[[H1]], %c0, %c0]
// CHECK: scf.for {{.*}} -> (f32)
// CHECK: vector.reduction <add>
// CHECK: memref.store %{{.*}}, %[[SCORES]]
// CHECK: arith.maximumf
// CHECK: scf.for {{.*}} -> (f32, vector<16xf32>, vector<16xf32>)
// CHECK: memref.load %[[SCORES]]
// CHECK: memref.store %{{.*}}, %[[M]][%c0, %[[H1]], %[[C1]]]
// CHECK: memref.store %{{.*}}, %[[L]][%c0, %[[H1]], %[[C1]]]
// CHECK: vector.store %{{.*}}, %[[A]][%c0, %[[H1]], %[[C1]], %c0]
// Phase 2: the exclusive scan over the chunks.
// CHECK: scf.parallel (%[[H2:.*]]) = {{.*}} to (%c4)
// CHECK: scf.for %[[C2:.*]] = %c0 to %c8 step %c1 iter_args({{.*}}) -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: memref.load %[[M]][%c0, %[[H2]], %[[C2]]]
// CHECK: memref.store %{{.*}}, %[[M]][%c0, %[[H2]], %[[C2]]]
// CHECK: arith.maximumf
// Phase 3: the rescan from the carried state, writing o and lse per key.
// CHECK: scf.parallel (%[[H3:.*]], %[[C3:.*]]) = {{.*}} to (%c4, %c8)
// CHECK: memref.load %[[M]][%c0, %[[H3]], %[[C3]]]
// CHECK: scf.for {{.*}} -> (f32, f32, vector<16xf32>, vector<16xf32>)
// CHECK: memref.load %[[SCORES]]
// CHECK: scf.if
// CHECK: arith.divf
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[LSE]]
// CHECK-NOT: scf.parallel
// CHECK: return
func.func @aaren(%q: tensor<1x4x32xf32>, %k: tensor<1x4x512x32xf32>,
                 %v: tensor<1x4x512x32xf32>)
    -> (tensor<1x4x512x32xf32>, tensor<1x4x512xf32>) {
  %e = tensor.empty() : tensor<1x4x512x32xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x32xf32>)
          outs(%e : tensor<1x4x512x32xf32>) dimensions = [2]
  %o, %lse = attn.attention softmax %qb, %k, %v [#attn.causal]
      : tensor<1x4x512x32xf32>, tensor<1x4x512x32xf32>, tensor<1x4x512x32xf32>
      -> tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
  return %o, %lse : tensor<1x4x512x32xf32>, tensor<1x4x512xf32>
}

// -----

// A linalg.generic copy that ignores the row index is a broadcast too; GQA
// reads K/V head h / 2, the sink enters at the end of each row, and more
// query rows than keys leave the first 20 rows empty (the last parallel
// loop writes them).
// CHECK-LABEL: func.func @generic_gqa_sinks
// CHECK-NOT: attn.attention
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x4x1x16xf32>)
// CHECK: scf.parallel
// CHECK: arith.divui %{{.*}}, %c2
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c4, %c20)
// CHECK: return
#bcast = affine_map<(b, h, i, d) -> (b, h, 0, d)>
#id = affine_map<(b, h, i, d) -> (b, h, i, d)>
func.func @generic_gqa_sinks(%q: tensor<1x4x1x16xf32>, %k: tensor<1x2x100x16xf32>,
                             %v: tensor<1x2x100x8xf32>, %sk: tensor<4xf32>)
    -> tensor<1x4x120x8xf32> {
  %e = tensor.empty() : tensor<1x4x120x16xf32>
  %qb = linalg.generic {indexing_maps = [#bcast, #id],
                        iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x4x1x16xf32>) outs(%e : tensor<1x4x120x16xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  } -> tensor<1x4x120x16xf32>
  %o = attn.attention softmax %qb, %k, %v [#attn.causal] sinks(%sk : tensor<4xf32>)
      : tensor<1x4x120x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x8xf32>
      -> tensor<1x4x120x8xf32>
  return %o : tensor<1x4x120x8xf32>
}

// -----

// Not prefixes of one query: distinct query rows, a window, a score_mod
// that reads the query index, a generic that computes (not copies) the
// rows, and a short static query (the tiled decode kernel's).
// CHECK-LABEL: func.func @distinct_rows
// CHECK: attn.attention
func.func @distinct_rows(%q: tensor<1x4x64x16xf32>, %k: tensor<1x4x64x16xf32>)
    -> tensor<1x4x64x16xf32> {
  %o = attn.attention softmax %q, %k, %k [#attn.causal]
      : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>
      -> tensor<1x4x64x16xf32>
  return %o : tensor<1x4x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @window
// CHECK: attn.attention
func.func @window(%q: tensor<1x4x16xf32>, %k: tensor<1x4x64x16xf32>)
    -> tensor<1x4x64x16xf32> {
  %e = tensor.empty() : tensor<1x4x64x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x16xf32>)
          outs(%e : tensor<1x4x64x16xf32>) dimensions = [2]
  %o = attn.attention softmax %qb, %k, %k [#attn.window<left = 8, right = 0>]
      : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>
      -> tensor<1x4x64x16xf32>
  return %o : tensor<1x4x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @reads_query_index
// CHECK: attn.attention
func.func @reads_query_index(%q: tensor<1x4x16xf32>, %k: tensor<1x4x64x16xf32>)
    -> tensor<1x4x64x16xf32> {
  %e = tensor.empty() : tensor<1x4x64x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x16xf32>)
          outs(%e : tensor<1x4x64x16xf32>) dimensions = [2]
  %o = attn.attention softmax %qb, %k, %k [#attn.causal]
      : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>
      -> tensor<1x4x64x16xf32>
    score_mod {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %d = arith.subi %i, %j : index
      %n = arith.index_cast %d : index to i32
      %f = arith.sitofp %n : i32 to f32
      %y = arith.subf %x, %f : f32
      attn.yield %y : f32
    }
  return %o : tensor<1x4x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @computed_rows
// CHECK: attn.attention
#bcast = affine_map<(b, h, i, d) -> (b, h, d)>
#id = affine_map<(b, h, i, d) -> (b, h, i, d)>
func.func @computed_rows(%q: tensor<1x4x16xf32>, %k: tensor<1x4x64x16xf32>)
    -> tensor<1x4x64x16xf32> {
  %e = tensor.empty() : tensor<1x4x64x16xf32>
  %qb = linalg.generic {indexing_maps = [#bcast, #id],
                        iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : tensor<1x4x16xf32>) outs(%e : tensor<1x4x64x16xf32>) {
  ^bb0(%x: f32, %y: f32):
    %z = arith.mulf %x, %x : f32
    linalg.yield %z : f32
  } -> tensor<1x4x64x16xf32>
  %o = attn.attention softmax %qb, %k, %k [#attn.causal]
      : tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>
      -> tensor<1x4x64x16xf32>
  return %o : tensor<1x4x64x16xf32>
}

// -----

// CHECK-LABEL: func.func @short_query
// CHECK: attn.attention
func.func @short_query(%q: tensor<1x4x16xf32>, %k: tensor<1x4x64x16xf32>)
    -> tensor<1x4x4x16xf32> {
  %e = tensor.empty() : tensor<1x4x4x16xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x16xf32>)
          outs(%e : tensor<1x4x4x16xf32>) dimensions = [2]
  %o = attn.attention softmax %qb, %k, %k [#attn.causal]
      : tensor<1x4x4x16xf32>, tensor<1x4x64x16xf32>, tensor<1x4x64x16xf32>
      -> tensor<1x4x4x16xf32>
  return %o : tensor<1x4x4x16xf32>
}
