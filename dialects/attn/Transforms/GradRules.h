//===- GradRules.h - graph-level derivative rules ---------------*- C++ -*-===//
//
// The vector-Jacobian products of the unfused graph ops, on tensors, built
// with linalg.generic (the score matrix is materialised). attn-grad uses them
// for ops outside a fused attention; attn-decompose lowers
// attn.attention_grad with them.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_GRADRULES_H
#define ATTN_TRANSFORMS_GRADRULES_H

#include "attn/IR/AttnOps.h"
#include "attn/Transforms/GenericBuilder.h"

namespace mlir::attn {

/// Gradients of attn.score (Q, K) from the score cotangent `dScores`; dK is
/// summed over the query heads of each K/V group.
struct ScoreGrads {
  Value query, key;
};
FailureOr<ScoreGrads> scoreVJP(GenericBuilder &g, Value query, Value key,
                               double scale, Value dScores);

/// Gradient of attn.mask: `grad` where `masked` is kept, 0 where it is −inf.
Value maskVJP(GenericBuilder &g, Value masked, Value grad);

/// Gradients of a score_mod region applied to `scores`: the score cotangent
/// and one gradient per captured float tensor (f32 accumulation, returned
/// with the capture's type).
struct ScoreModGrads {
  Value scores;
  SmallVector<Value> captures;
};
FailureOr<ScoreModGrads> scoreModVJP(GenericBuilder &g, Region &body,
                                     Value scores, Value grad,
                                     ValueRange captures);

/// Gradients of an aggregation of masked scores `scores` with values `value`.
/// Softmax needs `lse` (the forward's); `output` is the forward output.
/// `gradLse` and `sinks` are optional; `alpha` is entmax's.
struct AggregateGrads {
  Value scores, value, sinks;
};
FailureOr<AggregateGrads> aggregateVJP(GenericBuilder &g, AggregationKind kind,
                                       Value scores, Value value, Value output,
                                       Value lse, Value sinks, Value gradOutput,
                                       Value gradLse, double alpha = 0);

/// Gradient of attn.normalize of `scores` from its result `weights` and the
/// cotangent `grad` (`alpha`: entmax's).
Value normalizeVJP(GenericBuilder &g, AggregationKind kind, Value scores,
                   Value weights, Value grad, double alpha = 0);

/// Gradients of attn.merge: one per partial (output, lse), in order.
/// `gradLse` is optional.
SmallVector<Value> mergeVJP(GenericBuilder &g, ValueRange partials,
                            Value output, Value lse, Value gradOutput,
                            Value gradLse);

/// Gradients of attn.feature_map (the weights' only for random_features).
struct FeatureMapGrads {
  Value input, weights;
};
FeatureMapGrads featureMapVJP(GenericBuilder &g, FeatureMapKind kind,
                              Value input, Value weights, Value result,
                              Value grad);

/// Gradients of the tensor reshaping ops (expand_shape, collapse_shape,
/// extract_slice, insert_slice, cast): one per operand (null for index
/// operands); failure for any other op.
FailureOr<SmallVector<Value>> tensorOpVJP(GenericBuilder &g, Operation *op,
                                          Value grad);

/// Gradients of a one-result linalg.generic whose indexing maps are
/// projected permutations and whose reductions are sums, maxima or minima
/// (the gradient goes to the elements equal to the result): one per operand
/// (inputs, then the init), null for non-float or scalar operands. Fails
/// with an error naming the op otherwise.
FailureOr<SmallVector<Value>>
genericVJP(GenericBuilder &g, linalg::GenericOp op, ValueRange gradResults);

/// The float tensors defined outside `region` that it reads with
/// tensor.extract (the captures whose gradients a score_mod produces).
SmallVector<Value> capturedFloatTensors(Region &region);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_GRADRULES_H
