//===- AttnAdjoints.h - adjoints of the attn ops in f64 ---------*- C++ -*-===//
//
// The reverse-mode rules of the reference gradient (Gradient.h) for the attn
// ops, as loop nests over the recorded forward tensors. Each function adds
// (+=) the adjoints of an op's operands, given its forward operands and the
// adjoints of its results; an empty adjoint of a result stands for zero and
// an empty operand adjoint is not wanted. They follow the semantics of
// docs/language.md and share nothing with attn-grad.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_REFERENCE_ATTNADJOINTS_H
#define ATTN_REFERENCE_ATTNADJOINTS_H

#include "attn/Reference/Interpreter.h"

namespace mlir::attn::reference {

/// s = scale * Q K^T with GQA: dQ and dK (summed over the query heads that
/// share a key head).
void scoreAdjoint(const Tensor &q, const Tensor &k, double scale,
                  ArrayRef<double> dS, MutableArrayRef<double> dQ,
                  MutableArrayRef<double> dK);

/// attn.aggregate of kind `kind` on masked scores `s`: dS, dV and d(sink
/// logits). A row with lse -inf (every key masked, no sink) contributes
/// nothing, whatever its cotangents; masked keys get exactly 0. `alpha` is
/// entmax's.
void aggregateAdjoint(AggregationKind kind, const Tensor &s, const Tensor &v,
                      const Tensor *sinks, ArrayRef<double> dO,
                      ArrayRef<double> dLse, MutableArrayRef<double> dS,
                      MutableArrayRef<double> dV,
                      MutableArrayRef<double> dSinks, double alpha = 0);

/// attn.normalize: dS from dP.
void normalizeAdjoint(AggregationKind kind, const Tensor &s,
                      ArrayRef<double> dP, MutableArrayRef<double> dS,
                      double alpha = 0);

/// attn.merge of the partials (outs[k], lses[k]) into (o, lse).
void mergeAdjoint(ArrayRef<const Tensor *> outs, ArrayRef<const Tensor *> lses,
                  const Tensor &o, const Tensor &lse, ArrayRef<double> dO,
                  ArrayRef<double> dLse,
                  ArrayRef<MutableArrayRef<double>> dOuts,
                  ArrayRef<MutableArrayRef<double>> dLses);

/// attn.feature_map y = phi(x) (random_features: with weights `w`).
void featureMapAdjoint(FeatureMapKind kind, const Tensor &x, const Tensor *w,
                       const Tensor &y, ArrayRef<double> dY,
                       MutableArrayRef<double> dX, MutableArrayRef<double> dW);

/// The forward operands and attributes of an attn.linear_aggregate.
struct LinearAggregateOperands {
  const Tensor &q, &k, &v;
  const Tensor *decay, *state;
  bool causal, normalize;
  double eps;
};

/// The operand adjoints of an attn.linear_aggregate.
struct LinearAggregateAdjoints {
  MutableArrayRef<double> dQ, dK, dV, dDecay, dState;
};

/// attn.linear_aggregate with output `o`; `dO` and `dFinalState` are the
/// adjoints of its results.
void linearAggregateAdjoint(const LinearAggregateOperands &in, const Tensor &o,
                            ArrayRef<double> dO, ArrayRef<double> dFinalState,
                            const LinearAggregateAdjoints &out);

} // namespace mlir::attn::reference

#endif // ATTN_REFERENCE_ATTNADJOINTS_H
