//===- TestMaskAnalysis.cpp - print the mask analysis' tile classes -------===//
//
// -attn-test-mask-analysis: the analysis IR that the tiled forms emit on
// symbolic tile bounds is emitted here on constant ones, into a scratch
// function whose results are folded and read back, so the printed classes
// are the kernels' own decisions rather than a second implementation's.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNTESTMASKANALYSIS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The static Sq, Skv and Hq (1 if dynamic) of `op`, if Sq and Skv are.
struct StaticSizes {
  int64_t sq, skv, hq;
};

std::optional<StaticSizes> staticSizes(AttentionOp op) {
  auto q = cast<ShapedType>(op.getQuery().getType());
  auto k = cast<ShapedType>(op.getKey().getType());
  if (q.isDynamicDim(2) || k.isDynamicDim(2))
    return std::nullopt;
  int64_t hq = q.isDynamicDim(1) ? 1 : q.getDimSize(1);
  return StaticSizes{q.getDimSize(2), k.getDimSize(2), hq};
}

/// Folds the scratch module with every loaded canonicalization pattern.
void fold(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  RewritePatternSet patterns(ctx);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    name.getCanonicalizationPatterns(patterns, ctx);
  (void)applyPatternsGreedily(module, std::move(patterns));
}

/// A folded scratch result: its integer value, or none.
std::optional<int64_t> constantOf(Value v) {
  APInt value;
  if (!matchPattern(v, m_ConstantInt(&value)))
    return std::nullopt;
  return v.getType().isInteger(1) ? int64_t(!value.isZero())
                                  : value.getSExtValue();
}

/// `.` empty, `F` full, `P` partial, `?` not folded.
char tileChar(std::optional<int64_t> empty, std::optional<int64_t> full) {
  if (!empty)
    return '?';
  if (*empty)
    return '.';
  if (!full)
    return '?';
  return *full ? 'F' : 'P';
}

class TestMaskAnalysisPass
    : public attn::impl::AttnTestMaskAnalysisBase<TestMaskAnalysisPass> {
public:
  using Base::Base;

  void runOnOperation() override {
    if (tileQ <= 0 || tileKV <= 0) {
      getOperation()->emitError("tile-q and tile-kv must be positive");
      return signalPassFailure();
    }
    getOperation()->walk([&](AttentionOp op) { print(op); });
  }

private:
  /// Emits keyRange and classify for every (head, query tile, key tile) of
  /// `op`, in that order, as the results of a scratch function.
  SmallVector<Value> emitAnalysis(OpBuilder &b, AttentionOp op,
                                  const StaticSizes &s) {
    Location loc = op.getLoc();
    MaskAnalysis analysis(op.getPatterns(), &op.getPredicate());
    auto c = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    SmallVector<Value> results;
    for (int64_t h = 0; h < s.hq; ++h) {
      for (int64_t i0 = 0; i0 < s.sq; i0 += tileQ) {
        int64_t iLast = std::min(i0 + tileQ, s.sq) - 1;
        int64_t offset = s.skv - s.sq;
        QueryTile tile{c(0),     c(h),           c(i0),
                       c(iLast), c(i0 + offset), c(iLast + offset)};
        auto [lo, hi] = analysis.keyRange(b, loc, tile, c(s.skv));
        results.append({lo, hi});
        for (int64_t j0 = 0; j0 < s.skv; j0 += tileKV) {
          int64_t jLast = std::min(j0 + tileKV, s.skv) - 1;
          TileClass cls = analysis.classify(b, loc, tile, c(j0), c(jLast));
          results.append({cls.empty, cls.full});
        }
      }
    }
    return results;
  }

  /// The folded results of emitAnalysis.
  SmallVector<std::optional<int64_t>> evaluate(AttentionOp op,
                                               const StaticSizes &s) {
    Location loc = op.getLoc();
    OpBuilder b(op.getContext());
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    auto func = func::FuncOp::create(b, loc, "scratch",
                                     b.getFunctionType(TypeRange(), {}));
    b.setInsertionPointToStart(func.addEntryBlock());
    SmallVector<Value> results = emitAnalysis(b, op, s);
    func::ReturnOp::create(b, loc, results);
    func.setType(
        b.getFunctionType(TypeRange(), ValueRange(results).getTypes()));
    fold(*module);
    SmallVector<std::optional<int64_t>> values;
    Operation *ret = func.getBody().front().getTerminator();
    for (Value v : ret->getOperands())
      values.push_back(constantOf(v));
    return values;
  }

  void print(AttentionOp op) {
    raw_ostream &os = llvm::outs();
    auto func = op->getParentOfType<FunctionOpInterface>();
    os << "@" << (func ? func.getName() : StringRef("?")) << ": ";
    std::optional<StaticSizes> s = staticSizes(op);
    if (!s) {
      os << "dynamic Sq or Skv, skipped\n";
      return;
    }
    os << "Sq = " << s->sq << ", Skv = " << s->skv << ", tile-q = " << tileQ
       << ", tile-kv = " << tileKV << "\n";
    SmallVector<std::optional<int64_t>> values = evaluate(op, *s);
    auto show = [&](std::optional<int64_t> v) {
      if (v)
        os << *v;
      else
        os << "?";
    };
    size_t next = 0;
    for (int64_t h = 0; h < s->hq; ++h) {
      for (int64_t i0 = 0; i0 < s->sq; i0 += tileQ) {
        os << "  h" << h << " q[" << i0 << ", "
           << std::min<int64_t>(i0 + tileQ, s->sq) << ") keys [";
        show(values[next]);
        os << ", ";
        show(values[next + 1]);
        os << ") ";
        next += 2;
        for (int64_t j0 = 0; j0 < s->skv; j0 += tileKV, next += 2) {
          os << tileChar(values[next], values[next + 1]);
        }
        os << "\n";
      }
    }
  }
};

} // namespace
