//===- RegionAdjoint.h - reverse mode through scalar regions ----*- C++ -*-===//
//
// The chain rule through the single-block scalar regions of the graph
// (attn.score_mod bodies, linalg.generic bodies): clones the region's
// arith/math ops and emits their adjoints. Used by attn-grad at the graph
// level and by the backward kernels of every form.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_REGIONADJOINT_H
#define ATTN_TRANSFORMS_REGIONADJOINT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Region.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::attn {

/// Receives, for each `tensor.extract` of a float tensor defined outside the
/// region, the captured tensor, the (cloned) indices read and the adjoint of
/// the element read.
using ExtractAdjointFn =
    llvm::function_ref<void(Value tensor, ValueRange indices, Value adjoint)>;

/// Succeeds when every op of `block` has a derivative rule; otherwise emits
/// an error on the first op without one (naming it) and fails.
LogicalResult checkBlockDifferentiable(Block &block);

/// Clones `block` at the builder's insertion point with its arguments bound
/// to `args`, then emits the reverse-mode adjoint of the values its
/// terminator yields, seeded with `seeds` (one per yielded value; null for a
/// value that receives no cotangent). Returns the yielded values (cloned)
/// followed by one adjoint per block argument: a float argument's adjoint is
/// a zero constant when nothing flows to it; other arguments get null.
/// Float tensors read with tensor.extract report their adjoints to
/// `onExtract` (which may be null when the block reads none).
FailureOr<SmallVector<Value>> emitBlockAdjoint(OpBuilder &b, Location loc,
                                               Block &block, ValueRange args,
                                               ValueRange seeds,
                                               ExtractAdjointFn onExtract);

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_REGIONADJOINT_H
