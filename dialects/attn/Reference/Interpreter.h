//===- Interpreter.h - f64 reference interpreter for attn -------*- C++ -*-===//
//
// Evaluates a func.func made of attn ops (and the arith/math/tensor/linalg/scf
// ops around and inside them) directly in f64, following the semantics in
// docs/language.md. It shares no code with any lowering, so it serves as an
// independent oracle.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_REFERENCE_INTERPRETER_H
#define ATTN_REFERENCE_INTERPRETER_H

#include "attn/IR/AttnAttrs.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/Types.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace func {
class FuncOp;
} // namespace func

namespace attn::reference {

/// A dense row-major tensor (rank 0 for scalars). Every element type is held
/// as double: floats exactly as their value, integers/index/i1 as integers.
struct Tensor {
  SmallVector<int64_t> shape;
  Type elementType;
  std::vector<double> data;

  int64_t numElements() const;
};

/// Evaluates `func` on `args` (one per function argument, with concrete
/// shapes). On failure returns false and sets `error` to a one-line message
/// (unsupported op, invalid data such as an out-of-range CSR index, ...).
bool evaluate(func::FuncOp func, ArrayRef<Tensor> args,
              SmallVectorImpl<Tensor> &results, std::string &error);

/// As evaluate(), with the static sizes of types not enforced (ranks are):
/// a program written for one shard of a sequence-parallel run, evaluated on
/// the whole sequence. Each op still computes its result's shape from its
/// operands; an op that creates a tensor of a static size makes the
/// evaluation fail where shapes then disagree.
bool evaluateIgnoringStaticSizes(func::FuncOp func, ArrayRef<Tensor> args,
                                 SmallVectorImpl<Tensor> &results,
                                 std::string &error);

/// A value at run time: a tensor when `tensor` is set, otherwise a scalar.
struct RuntimeValue {
  double scalar = 0;
  std::shared_ptr<const Tensor> tensor;
};

/// A forward evaluation that keeps what it computed, for reverse-mode
/// differentiation (Gradient.h): after run(), value() reads every value of
/// the function body, and a region body can be re-run point by point, after
/// which value() reads that run's values.
class RecordedEvaluation {
public:
  RecordedEvaluation();
  ~RecordedEvaluation();
  RecordedEvaluation(const RecordedEvaluation &) = delete;
  RecordedEvaluation &operator=(const RecordedEvaluation &) = delete;

  /// Static sizes of types are not enforced by later run() calls (as
  /// evaluateIgnoringStaticSizes).
  void ignoreStaticSizes();

  /// As evaluate(), keeping the values.
  bool run(func::FuncOp func, ArrayRef<Tensor> args,
           SmallVectorImpl<Tensor> &results, std::string &error);

  /// The value `v` took in the latest execution of its block.
  RuntimeValue value(Value v) const;

  /// Runs `block` on `args` (`loopIndices`: the iteration point linalg.index
  /// reads in a linalg body) and returns what its terminator yields.
  bool runBlock(Block &block, ArrayRef<RuntimeValue> args,
                ArrayRef<int64_t> loopIndices,
                SmallVectorImpl<RuntimeValue> &yielded, std::string &error);

  /// The flat positions that a recorded tensor.extract_slice reads from its
  /// source, or that a tensor.insert_slice writes in its destination, in the
  /// slice's row-major order.
  bool slicePositions(Operation *sliceOp, SmallVectorImpl<int64_t> &positions,
                      std::string &error);

  /// For a recorded attn.attention: its scores before score_mod (`raw`) and
  /// after score_mod and the mask (`masked`; -inf where masked).
  bool attentionScores(Operation *attention, Tensor &raw, Tensor &masked,
                       std::string &error);

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Fills `weights` with the weights `kind` gives one row of `n` scores
/// (with the optional sink logit in the softmax denominator; `alpha` for
/// entmax) and returns the row's lse (softmax; 0 otherwise). A fully masked
/// row gets weights 0 and lse -inf.
double rowWeights(AggregationKind kind, const double *scores, int64_t n,
                  const double *sink, double *weights, double alpha = 0);

/// The entmax threshold tau of one row of `n` values z = (alpha - 1) s (the
/// masked ones -inf, at least one finite): the tau with
/// sum_j [z_j - tau]_+^(1 / (alpha - 1)) = 1, exact from the sorted row for
/// alpha = 2 and 1.5, else by bisection to double precision.
double entmaxThreshold(const double *z, int64_t n, double alpha);

/// The value of a linalg indexing-map expression at the iteration point
/// `dims`; nullopt for symbols or a division by zero.
std::optional<int64_t> evaluateAffine(AffineExpr expr, ArrayRef<int64_t> dims);

} // namespace attn::reference
} // namespace mlir

#endif // ATTN_REFERENCE_INTERPRETER_H
