//===- ExpandStridedCopies.cpp - strided copies to linalg.copy ------------===//
//
// memref.copy between buffers with non-identity layouts lowers to a call of
// MLIR's memrefCopy runtime function; as linalg.copy it becomes loops (CPU)
// or a kernel (GPU), so objects link without MLIR's runtime libraries. Runs
// in both the CPU and the GPU pipelines.
//
//===----------------------------------------------------------------------===//

#include "attn/Lowering/ExpandStridedCopies.h"
#include "attn/Lowering/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEXPANDSTRIDEDCOPIES
#include "attn/Lowering/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// memref.copy between strided buffers -> linalg.copy (no memrefCopy call).
struct ExpandStridedCopy : OpRewritePattern<memref::CopyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
    auto identity = [](Value v) {
      auto type = dyn_cast<MemRefType>(v.getType());
      return type && type.getLayout().isIdentity();
    };
    if (identity(op.getSource()) && identity(op.getTarget()))
      return failure();
    if (!isa<MemRefType>(op.getSource().getType()) ||
        !isa<MemRefType>(op.getTarget().getType()))
      return failure();
    rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                op.getTarget());
    return success();
  }
};

struct AttnExpandStridedCopiesPass
    : attn::impl::AttnExpandStridedCopiesBase<AttnExpandStridedCopiesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateExpandStridedCopiesPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::attn::populateExpandStridedCopiesPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ExpandStridedCopy>(patterns.getContext());
}
