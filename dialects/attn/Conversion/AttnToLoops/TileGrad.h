//===- TileGrad.h - tiled backward of attn.attention_grad -------*- C++ -*-===//
//
// The FlashAttention-2 backward on the CPU: P is recomputed from the saved
// lse tile by tile, no S x S tensor exists, the tiles the mask analysis
// or the run-time masks (query-tile lists) prove empty are never visited,
// and every reduction runs in a fixed order (no atomics), so the gradients
// are bit-identical from run to run.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_TILEGRAD_H
#define ATTN_CONVERSION_ATTNTOLOOPS_TILEGRAD_H

#include "attn/Conversion/AttnToLoops/Tile.h"

namespace mlir::attn {

/// Lowers `op` to three parallel loop nests on buffers: per query tile, Δ =
/// rowsum(dO ∘ O) - dlse (then d(sinks), one head each); per (batch, K/V
/// head, query part), the transposed, scaled Q and dO^T of the part's query
/// tiles, then the key tiles in order, each over the query tiles of the part
/// and of the GQA group that the mask analysis does not prove empty (with
/// tile-level or key-list patterns: that run-time query-tile lists hold), with
/// dK and dV on the stack and dQ in an f32 buffer the part alone writes; then
/// dQ, and dK and dV summed over the parts in order. Gradients of captured
/// tensors go to a fixed number of private copies, summed in order. Tile sizes
/// and the vector width come from `options` as for tileAttention. Fails when a
/// head count or head dimension is dynamic or the options are invalid (emitting
/// an error when score_mod has an op without a derivative rule).
FailureOr<SmallVector<Value>> tileAttentionGrad(RewriterBase &rewriter,
                                                AttentionGradOp op,
                                                const TileOptions &options);

/// The attn.attention whose output (and lse) `op` differentiates when `op`
/// is the only user of its results, as in @F_grad: tileAttentionGrad then
/// recomputes what it needs of the forward itself (for softmax, Δ and lse
/// by a tiled forward that never stores O; nothing for the other kinds),
/// and the forward is left dead. Null otherwise.
AttentionOp recomputedForward(AttentionGradOp op);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_TILEGRAD_H
