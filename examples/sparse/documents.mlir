// Packed variable-length documents (sequence packing / "document masking",
// as in FlashAttention's varlen API and FlexAttention's document mask).
//
// Several documents are concatenated into each row of the batch, and
// doc[b, t] is the document id of token t (non-decreasing along t). A query
// attends causally to earlier tokens of its own document only:
//   keep(i, j) = j <= i  AND  doc[b, i] == doc[b, j]
// B = 2 packed rows of S = 512 tokens, Hq = 4, Hkv = 1 (multi-query), D = 32.
//
// attn ops: attn.score -> attn.mask [#attn.causal, #attn.segments] (doc, doc)
// -> attn.aggregate softmax. The same id tensor serves queries and keys.
// Compiled form (attn-sparsify): block-sparse key-tile lists. One pass per
// batch row checks that the ids are in order (they are, so no sort; see
// routing-transformer.mlir for ids in any order). Each key tile's id range
// [min, max] is compared with the query tile's: tiles of other documents are
// never visited, tiles inside the query's document run unmasked (or with the
// causal interval mask on the diagonal), only tiles that straddle a document
// boundary are masked per element. No padding, no dense mask.
//
// attn-run --random-args draws random non-decreasing ids (random document
// lengths).

func.func @documents(%q: tensor<2x4x512x32xf32>, %k: tensor<2x1x512x32xf32>,
                     %v: tensor<2x1x512x32xf32>, %doc: tensor<2x512xi32>)
    -> tensor<2x4x512x32xf32> {
  %s = attn.score %q, %k : tensor<2x4x512x32xf32>, tensor<2x1x512x32xf32> -> tensor<2x4x512x512xf32>
  %m = attn.mask %s [#attn.causal, #attn.segments] (%doc, %doc)
      : tensor<2x4x512x512xf32>, tensor<2x512xi32>, tensor<2x512xi32>
  %o = attn.aggregate softmax %m, %v : tensor<2x4x512x512xf32>, tensor<2x1x512x32xf32> -> tensor<2x4x512x32xf32>
  return %o : tensor<2x4x512x32xf32>
}
