//===- OnlineSoftmax.h - the online-softmax recurrence as IR ----*- C++ -*-===//
//
// FlashAttention's online softmax, written once for every form that visits
// keys in blocks (tiled, gather, scan, GPU) and for the merge of partial
// results (split keys, attn.merge). Each builder works on scalars (one row)
// or on vectors whose lanes are rows:
//
//   m' = max(m, blockMax)         rescale()
//   α  = e^{m - m'}, p = e^{s - m'}   (0 where the operand is -inf)
//   l' = α l + Σ p                sum()
//   acc' = α acc + P V            (the caller's matmul)
//   o = acc / l, lse = m + log l  finish(), with the sink logit in l
//
// Masked scores are -inf; a row that has seen nothing keeps m = -inf, and
// safeMax() keeps exp() away from -inf - -inf, so such rows end with o = 0
// and lse = -inf (or the sink logit), never NaN.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_ONLINESOFTMAX_H
#define ATTN_KERNEL_ONLINESOFTMAX_H

#include "attn/Kernel/KernelBuilder.h"

namespace mlir::attn {

class OnlineSoftmax {
public:
  explicit OnlineSoftmax(KernelBuilder &k) : k(k) {}

  /// `m`, or 0 where it is -inf.
  Value safeMax(Value m);

  /// e^{x - mSafe}, exactly 0 where x is -inf (exp may be a polynomial that
  /// clamps its input).
  Value weight(Value x, Value mSafe);

  /// The running max `max` after a block whose max is `blockMax`, its safe
  /// form, and the factor `alpha` that rescales what was accumulated.
  struct Step {
    Value max, safeMax, alpha;
  };
  Step rescale(Value m, Value blockMax);

  /// The running sum after a block: alpha * l + blockSum.
  Value sum(Value alpha, Value l, Value blockSum) {
    return k.fma(alpha, l, blockSum);
  }

  /// The weight of score `s` for the aggregations that do not normalise
  /// (sigmoid: 1 / (1 + e^{-s}); none: s), 0 where s is -inf.
  Value pointwiseWeight(AggregationKind kind, Value s);

  /// The end of a row (scalars) with running max `m` and sum `l`: the factor
  /// that normalises its accumulator (0 for a row with nothing visible) and
  /// its lse, with the sink logit `sink` (may be null) in the denominator.
  std::pair<Value, Value> finish(Value m, Value l, Value sink);

  /// The merge of partial results (o_p, lse_p) of one row, each normalised
  /// by its own sum: o = factor * Σ_p weights[p] o_p and lse, with the sink
  /// logit `sink` (may be null) in the denominator; empty parts (lse -inf)
  /// weigh 0, and a row with nothing visible gets factor 0.
  struct Merge {
    SmallVector<Value> weights;
    Value factor, lse;
  };
  Merge merge(ArrayRef<Value> lses, Value sink);

  /// Stores a finished row: the accumulator vectors `acc` (vector c at last
  /// index c * its width) times the normalising factor -- finish() of the
  /// running max `m`, sum `l` and sink logit `sink` (may be null) for
  /// softmax; 1 for the other aggregations -- to `out` at `row`, and the lse
  /// to `lse` (may be null).
  void storeRow(bool softmax, Value m, Value l, Value sink, ArrayRef<Value> acc,
                Value out, Value lse, ValueRange row);

private:
  /// A constant `v` of the type of `like` (f32 or a vector of f32).
  Value constantLike(Value like, double v);

  KernelBuilder &k;
};

} // namespace mlir::attn

#endif // ATTN_KERNEL_ONLINESOFTMAX_H
