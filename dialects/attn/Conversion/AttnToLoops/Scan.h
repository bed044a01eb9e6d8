//===- Scan.h - scan form of prefix attention -------------------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_SCAN_H
#define ATTN_CONVERSION_ATTNTOLOOPS_SCAN_H

#include "attn/IR/AttnOps.h"
#include "attn/Kernel/CpuTarget.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Keys per chunk of the parallel scan (0: the cost model, 256) and f32
/// vector lanes (0: the host's).
struct ScanOptions {
  int64_t chunk = 0;
  int64_t vectorWidth = 0;
  /// The CPU the code is for: its vector width where vectorWidth is 0.
  CpuTarget target;
};

/// The linalg op that broadcasts one vector per (batch, head) over the query
/// axis (dimension 2) of `query` -- every query row is the same -- or null.
linalg::LinalgOp getQueryBroadcast(Value query);

/// Whether `op` is attention of one query over every prefix: its query is a
/// broadcast (getQueryBroadcast), its mask is `#attn.causal` alone, and its
/// predicate and score_mod regions (if any) do not read the query index,
/// so that every key has one score and row i's keys are a prefix.
bool isPrefixAttention(AttentionOp op);
/// The same conditions on the operands of a backward.
bool isPrefixAttention(AttentionGradOp op);

/// The query row that the broadcast `bcast` (getQueryBroadcast) repeats, as
/// a [B, H, 1, D] tensor: the shared row, without materialising [B, H, Sq, D].
Value queryRow(OpBuilder &b, Location loc, linalg::LinalgOp bcast);

/// Lowers a prefix attention (isPrefixAttention) to the scan form: the score
/// of every key once, then a parallel prefix scan of the softmax state
/// (max, denominator, numerator) over chunks of keys -- local chunk states,
/// an exclusive scan of the chunk states, and a rescan of each chunk from
/// its carried state that writes the output (and lse) of the row whose
/// prefix ends at each key. O(Skv (D + Dv)) work instead of O(Sq Skv D).
FailureOr<SmallVector<Value>> scanAttention(RewriterBase &rewriter,
                                            AttentionOp op,
                                            const ScanOptions &options);

/// The scan forms of prefix attention (scanAttention) and of its backward
/// (scanAttentionGrad).
void populateScanPatterns(RewritePatternSet &patterns,
                          const ScanOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_SCAN_H
