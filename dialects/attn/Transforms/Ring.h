//===- Ring.h - sequence parallelism: attention over an MPI ring -*- C++
//-*-===//
//
// attn-ring distributes every fused attention of a function over the ranks
// of MPI_COMM_WORLD (row E1): each rank holds one shard of the sequence, K/V
// blocks travel around the ring with non-blocking transfers and the partial
// results merge by log-sum-exp. docs/ring-attention.md has the design.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_RING_H
#define ATTN_TRANSFORMS_RING_H

#include "attn/IR/AttnOps.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::attn {

/// Which positions a rank holds: `contiguous`, rank r holds [r·n, (r+1)·n);
/// `zigzag`, the sequence is cut into 2P chunks and rank r holds chunks r
/// and 2P−1−r, in that order.
enum class RingLayout { Contiguous, Zigzag };

std::optional<RingLayout> parseRingLayout(StringRef name);

/// Replaces `op` (written for one rank's shard) by its ring: P steps, each
/// posting the transfer of the K/V block in hand (and the key side of
/// #attn.segments) to rank r+1 and the receive from r−1, computing this
/// rank's queries against the block with global positions, and merging.
/// Emits an error and fails for what the ring cannot distribute.
FailureOr<SmallVector<Value>>
distributeOverRing(RewriterBase &rewriter, AttentionOp op, RingLayout layout);

/// The backward of `op` (written for one rank's shard, its O and lse the
/// forward ring's) on the same ring: dQ accumulates on this rank, dK and dV
/// travel with their K/V block and are home after P transfers. The sinks'
/// and captures' gradients are this rank's partial sums (the caller reduces
/// them over the ranks, like any replicated parameter's).
FailureOr<SmallVector<Value>> distributeGradientOverRing(RewriterBase &rewriter,
                                                         AttentionGradOp op,
                                                         RingLayout layout);

/// Decoding across ranks: `op`'s keys, values and key-side mask data are
/// this rank's contiguous shard of the key sequence, its queries (the last
/// Sq positions of the whole sequence) and every other operand are the same
/// on every rank. Each rank attends to its keys, then an allreduce merges
/// the partial (O, lse): every rank gets the whole result.
FailureOr<SmallVector<Value>> decodeAcrossRanks(RewriterBase &rewriter,
                                                AttentionOp op);

/// Memory effects of mpi.isend (reads its buffer), mpi.irecv (writes it)
/// mpi.wait and mpi.allreduce, which LLVM 22 does not declare: buffer
/// deallocation rejects ops with unknown effects on memrefs.
void registerRingExternalModels(DialectRegistry &registry);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_RING_H
