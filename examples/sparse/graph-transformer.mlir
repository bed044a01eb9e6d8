// Graph Transformer layer on a sparse graph (Dwivedi & Bresson, "A
// Generalization of Transformer Networks to Graphs", 2020; sparse attention
// over neighbours with Graphormer-style structural biases, Ying et al. 2021).
//
// Node i attends only to its neighbours j in the adjacency, given in CSR
// form (row_ptr [N+1], col [nnz], columns sorted per row), with a per-head
// structural bias built from per-node terms instead of a dense N x N table:
//   s(h, i, j) = <q_i, k_j> / sqrt(D) + bq[h, i] + bk[h, j]     (j in N(i))
//   O_i = sum_{j in N(i)} softmax_j(s) v_j
// bq/bk [H, N] stand for, e.g., projected degree/centrality embeddings of the
// query and the key node. N = 256 nodes, nnz = 2048 edges, H = 4, D = 32.
// Memory stays proportional to nodes + edges: no [B, H, N, N] tensor exists.
//
// attn ops: attn.score -> attn.score_mod (reads bq[h, i], bk[h, j] with
// tensor.extract) -> attn.mask [#attn.csr] (row_ptr, col) -> attn.aggregate.
// Compiled form (attn-sparsify): gather form. One parallel loop over
// (batch, head, node); each node loops over its CSR neighbours only, applying
// the bias per visited edge, with an online softmax. Nodes without neighbours
// return 0 (lse = -inf).
//
// attn-run --random-args draws a valid random CSR graph (sorted unique columns).

func.func @graph_transformer(%q: tensor<1x4x256x32xf32>, %k: tensor<1x4x256x32xf32>,
                             %v: tensor<1x4x256x32xf32>,
                             %row_ptr: tensor<257xi32>, %col: tensor<2048xi32>,
                             %bq: tensor<4x256xf32>, %bk: tensor<4x256xf32>)
    -> (tensor<1x4x256x32xf32>, tensor<1x4x256xf32>) {
  %s = attn.score %q, %k : tensor<1x4x256x32xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x256xf32>
  %sb = attn.score_mod %s : tensor<1x4x256x256xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %zi = tensor.extract %bq[%h, %i] : tensor<4x256xf32>
    %zj = tensor.extract %bk[%h, %j] : tensor<4x256xf32>
    %y0 = arith.addf %x, %zi : f32
    %y = arith.addf %y0, %zj : f32
    attn.yield %y : f32
  }
  %m = attn.mask %sb [#attn.csr] (%row_ptr, %col)
      : tensor<1x4x256x256xf32>, tensor<257xi32>, tensor<2048xi32>
  %o, %lse = attn.aggregate softmax %m, %v
      : tensor<1x4x256x256xf32>, tensor<1x4x256x32xf32> -> tensor<1x4x256x32xf32>, tensor<1x4x256xf32>
  return %o, %lse : tensor<1x4x256x32xf32>, tensor<1x4x256xf32>
}
