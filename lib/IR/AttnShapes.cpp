//===- AttnShapes.cpp - shape rules of attn ops ---------------------------===//

#include "attn/IR/AttnShapes.h"
#include "attn/IR/AttnOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::attn;

std::string mlir::attn::formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

bool isDyn(int64_t d) { return ShapedType::isDynamic(d); }
} // namespace

std::optional<int64_t> mlir::attn::checkedByteSize(ArrayRef<int64_t> shape,
                                                   int64_t elementBytes) {
  int64_t bytes = elementBytes;
  for (int64_t d : shape)
    if (!isDyn(d) && llvm::MulOverflow(bytes, d, bytes))
      return std::nullopt;
  return bytes;
}

int64_t mlir::attn::ceilDivSize(int64_t size, int64_t block) {
  // Written so that no intermediate overflows for any positive block.
  return isDyn(size) ? kDyn : size / block + (size % block != 0);
}

int64_t SizeRecorder::tagOf(Size size) {
  for (auto [i, known] : llvm::enumerate(sizes))
    if (known.kind == size.kind && known.a == size.a && known.b == size.b)
      return kFirstTag - static_cast<int64_t>(i);
  sizes.push_back(size);
  return kFirstTag - static_cast<int64_t>(sizes.size() - 1);
}

int64_t SizeRecorder::argumentDim(unsigned argument, unsigned dim) {
  return tagOf({Size::Kind::ArgumentDim, argument, dim});
}

int64_t SizeRecorder::derive(Size::Kind kind, int64_t of, int64_t constant) {
  return tagOf({kind, of, constant});
}

void SizeRecorder::record(Rule rule, int64_t a, int64_t b, const Twine &what) {
  recorded.push_back({rule, a, b, what.str(), context});
}

bool ShapeChecker::recorded(SizeRecorder::Rule rule, int64_t a, int64_t b,
                            const Twine &what) {
  if (!recorder || failed || isDyn(a) || isDyn(b) ||
      (!SizeRecorder::isTag(a) && !SizeRecorder::isTag(b)))
    return false;
  if (a != b)
    recorder->record(rule, a, b, what);
  return true;
}

int64_t ShapeChecker::ceilDiv(int64_t size, int64_t block) {
  if (recorder && SizeRecorder::isTag(size))
    return recorder->derive(SizeRecorder::Size::Kind::CeilDiv, size, block);
  return ceilDivSize(size, block);
}

int64_t ShapeChecker::plus(int64_t size, int64_t constant) {
  if (recorder && SizeRecorder::isTag(size))
    return recorder->derive(SizeRecorder::Size::Kind::Plus, size, constant);
  return isDyn(size) ? kDyn : size + constant;
}

bool ShapeChecker::isKnown(int64_t d) const {
  return !isDyn(d) && !SizeRecorder::isTag(d);
}

bool ShapeChecker::fail(const Twine &msg) {
  if (!failed)
    error = msg.str();
  failed = true;
  return false;
}

Shape ShapeChecker::ranked(Value v, unsigned rank, StringRef name) {
  if (failed)
    return Shape(rank, kDyn);
  Shape s = shapeOf(v);
  if (s.size() != rank) {
    fail(
        llvm::formatv("{0} must have rank {1}, got {2}", name, rank, s.size()));
    return Shape(rank, kDyn);
  }
  return s;
}

void ShapeChecker::elementType(Value v, llvm::function_ref<bool(Type)> pred,
                               StringRef name, StringRef expected) {
  if (failed)
    return;
  auto t = dyn_cast<ShapedType>(v.getType());
  if (!t || !pred(t.getElementType()))
    fail(llvm::formatv("{0} must be a tensor of {1}", name, expected));
}

void ShapeChecker::equal(int64_t a, int64_t b, const Twine &what) {
  if (recorded(SizeRecorder::Rule::Equal, a, b, what) || failed || isDyn(a) ||
      isDyn(b) || a == b)
    return;
  fail(what + " (" + Twine(a) + " vs " + Twine(b) + ")");
}

void ShapeChecker::equalOrOne(int64_t a, int64_t b, const Twine &what) {
  if (recorded(SizeRecorder::Rule::EqualOrOne, a, b, what) || failed ||
      isDyn(a) || isDyn(b) || a == b || a == 1)
    return;
  fail(what + " must be 1 or " + Twine(b) + ", got " + Twine(a));
}

void ShapeChecker::divides(int64_t kvHeads, int64_t qHeads, StringRef what) {
  if (recorded(SizeRecorder::Rule::Divides, kvHeads, qHeads, what) || failed ||
      isDyn(kvHeads) || isDyn(qHeads))
    return;
  if (qHeads < 1) {
    fail(llvm::formatv("query heads must be at least 1, got {0}", qHeads));
    return;
  }
  if (kvHeads <= 0 || qHeads % kvHeads != 0)
    fail(llvm::formatv("{0} heads ({1}) must divide query heads ({2})", what,
                       kvHeads, qHeads));
}

void ShapeChecker::isStatic(int64_t d, StringRef what) {
  if (!failed && isDyn(d))
    fail(Twine(what) + " must be static");
}

void ShapeChecker::positive(int64_t v, StringRef what) {
  if (!failed && v <= 0)
    fail(llvm::formatv("{0} must be positive, got {1}", what, v));
}

void ShapeChecker::atLeastOne(int64_t d, StringRef what) {
  if (recorded(SizeRecorder::Rule::AtLeastOne, d, 1, what))
    return;
  if (!failed && !isDyn(d) && d < 1)
    fail(llvm::formatv("{0} must be at least 1, got {1}", what, d));
}

namespace {
bool isFloatTy(Type t) {
  return isa<Float32Type, Float16Type, BFloat16Type>(t);
}
bool isF32(Type t) { return t.isF32(); }
/// Q [B, Hq, Sq, D] and K [B, Hkv, Skv, D]; returns the scores shape.
Shape checkScoreOperands(ShapeChecker &c, Value query, Value key) {
  c.elementType(query, isFloatTy, "query", "f32, f16 or bf16");
  c.elementType(key, isFloatTy, "key", "f32, f16 or bf16");
  Shape q = c.ranked(query, 4, "query");
  Shape k = c.ranked(key, 4, "key");
  c.equal(q[0], k[0], "query and key batch sizes differ");
  c.isStatic(q[3], "head dimension D of the query");
  c.atLeastOne(q[3], "head dimension D of the query");
  c.equal(q[3], k[3], "query and key head dimensions differ");
  c.divides(k[1], q[1], "key");
  return {q[0], q[1], q[2], k[2]};
}

/// The patterns of a mask and the operands they consume. A `positioned`
/// attention's block masks cover the whole sequence, not its Sq x Skv.
void checkMaskOperands(ShapeChecker &c, ArrayAttr patterns, ValueRange operands,
                       ArrayRef<int64_t> scores, bool positioned = false) {
  unsigned needed = 0;
  for (Attribute p : patterns) {
    auto pattern = dyn_cast<MaskPatternAttrInterface>(p);
    if (!pattern) {
      c.fail("mask pattern must be an #attn pattern attribute");
      return;
    }
    needed += pattern.getNumMaskOperands();
  }
  if (needed != operands.size()) {
    c.fail(llvm::formatv("mask patterns consume {0} operand(s), but {1} "
                         "given",
                         needed, operands.size()));
    return;
  }
  for (Attribute p : patterns) {
    auto pattern = cast<MaskPatternAttrInterface>(p);
    unsigned n = pattern.getNumMaskOperands();
    Shape sequence(scores);
    if (positioned && isa<BlockMaskAttr>(p))
      sequence[2] = sequence[3] = ShapedType::kDynamic;
    pattern.checkOperandShapes(c, sequence, operands.take_front(n));
    operands = operands.drop_front(n);
  }
}

/// V [B, Hkv, Skv, Dv] against scores [B, Hq, Sq, Skv], and the optional
/// sinks; returns the output shape [B, Hq, Sq, Dv].
Shape checkValueAndSinks(ShapeChecker &c, ArrayRef<int64_t> s, Value value,
                         Value sinks, bool softmax, Type outputElt) {
  c.elementType(value, isFloatTy, "value", "f32, f16 or bf16");
  Shape v = c.ranked(value, 4, "value");
  c.equal(s[0], v[0], "scores and value batch sizes differ");
  c.divides(v[1], s[1], "value");
  c.equal(s[3], v[2], "scores key length and value length differ");
  c.isStatic(v[3], "value head dimension Dv");
  c.atLeastOne(v[3], "value head dimension Dv");
  if (sinks) {
    if (!softmax)
      c.fail("sinks require softmax aggregation");
    Shape sk = c.ranked(sinks, 1, "sinks");
    c.equal(sk[0], s[1], "sinks need one logit per query head");
  }
  if (c.ok() && outputElt != cast<ShapedType>(value.getType()).getElementType())
    c.fail("output element type must be the value element type");
  return {s[0], s[1], s[2], v[3]};
}

/// The aggregation of scores `s` (attn.aggregate and attn.attention):
/// value, sinks, the optional lse, and the result shapes.
void checkAggregation(ShapeChecker &c, ArrayRef<int64_t> s,
                      AggregationKind kind, Value value, Value sinks,
                      Value output, Value lse,
                      SmallVectorImpl<Shape> &results) {
  bool softmax = kind == AggregationKind::softmax;
  Type outElt = cast<ShapedType>(output.getType()).getElementType();
  results.push_back(checkValueAndSinks(c, s, value, sinks, softmax, outElt));
  if (lse && !softmax)
    c.fail("an lse result requires softmax aggregation");
  if (lse)
    results.push_back({s[0], s[1], s[2]});
}

/// The (output, lse) pairs of attn.merge.
void checkMerge(ShapeChecker &c, MergeOp m, SmallVectorImpl<Shape> &results) {
  ValueRange parts = m.getPartials();
  if (parts.size() < 2 || parts.size() % 2 != 0) {
    c.fail("expects (output, lse) operand pairs");
    return;
  }
  Type outElt = cast<ShapedType>(m.getOutput().getType()).getElementType();
  Shape o0 = c.ranked(parts[0], 4, "partial output #0");
  for (unsigned i = 0; i < parts.size() / 2 && c.ok(); ++i) {
    Value o = parts[2 * i], lse = parts[2 * i + 1];
    std::string on = llvm::formatv("partial output #{0}", i).str();
    std::string ln = llvm::formatv("partial lse #{0}", i).str();
    c.elementType(
        o, [&](Type t) { return t == outElt; }, on,
        "the result's element type");
    c.elementType(lse, isF32, ln, "f32");
    Shape os = c.ranked(o, 4, on);
    Shape ls = c.ranked(lse, 3, ln);
    for (unsigned d = 0; d < 4; ++d)
      c.equal(os[d], o0[d], on + " shape differs from partial #0");
    for (unsigned d = 0; d < 3; ++d)
      c.equal(ls[d], os[d], ln + " must be the output shape without Dv");
  }
  results.push_back(o0);
  results.push_back({o0[0], o0[1], o0[2]});
}

/// attn.feature_map: the input, the optional weights, the feature count.
void checkFeatureMap(ShapeChecker &c, FeatureMapOp f,
                     SmallVectorImpl<Shape> &results) {
  Shape x = c.shapeOf(f.getInput());
  if (x.empty()) {
    c.fail("input must have rank >= 1");
    return;
  }
  int64_t d = x.back();
  c.isStatic(d, "feature dimension of the input");
  c.atLeastOne(d, "feature dimension of the input");
  Shape r = x;
  bool random = f.getKind() == FeatureMapKind::random_features;
  if (random != static_cast<bool>(f.getWeights())) {
    c.fail(random ? "random_features requires a weight operand W [D, F]"
                  : "only random_features takes a weight operand");
    return;
  }
  if (random) {
    Shape w = c.ranked(f.getWeights(), 2, "weights");
    c.equal(w[0], d, "weights rows must equal the input dimension D");
    c.isStatic(w[1], "feature count F of the weights");
    c.atLeastOne(w[1], "feature count F of the weights");
    r.back() = w[1];
  } else if (f.getKind() == FeatureMapKind::taylor2 && c.isKnown(d)) {
    // F = 1 + D + D^2 must fit a tensor dimension.
    if (d > (int64_t(1) << 30)) {
      c.fail("taylor2 needs D <= 2^30, got " + Twine(d));
      return;
    }
    r.back() = 1 + d + d * d;
  }
  results.push_back(r);
}

/// attn.linear_aggregate: features, values, decay and state.
void checkLinearAggregate(ShapeChecker &c, LinearAggregateOp l,
                          SmallVectorImpl<Shape> &results) {
  Shape q = c.ranked(l.getQuery(), 4, "query features");
  Shape k = c.ranked(l.getKey(), 4, "key features");
  Shape v = c.ranked(l.getValue(), 4, "value");
  c.equal(q[0], k[0], "query and key batch sizes differ");
  c.equal(k[0], v[0], "key and value batch sizes differ");
  c.equal(q[3], k[3], "query and key feature dimensions differ");
  c.equal(k[1], v[1], "key and value head counts differ");
  c.equal(k[2], v[2], "key and value lengths differ");
  c.divides(k[1], q[1], "key");
  c.atLeastOne(q[3], "feature dimension F of the query features");
  c.isStatic(v[3], "value head dimension Dv");
  c.atLeastOne(v[3], "value head dimension Dv");
  if (l.getDecay()) {
    if (!l.getCausal())
      c.fail("decay requires causal");
    Shape d = c.ranked(l.getDecay(), 1, "decay");
    c.equal(d[0], q[1], "decay needs one value per query head");
  }
  if (c.ok() && l.getEps().convertToDouble() < 0)
    c.fail("eps must be non-negative");
  if (Value state = l.getState()) {
    if (c.ok() && !l.getCausal())
      c.fail("state requires causal");
    if (c.ok() && l.getNormalize())
      c.fail("state cannot be combined with normalize");
    Shape st = c.ranked(state, 4, "state");
    c.equal(st[0], q[0], "state batch size differs from the query's");
    c.equal(st[1], q[1], "state needs one [F, Dv] matrix per query head");
    c.equal(st[2], q[3], "state rows differ from the feature dimension F");
    c.equal(st[3], v[3], "state columns differ from the value dimension Dv");
    if (c.ok() && !l.getFinalState())
      c.fail("state needs a second result, the final state");
  } else if (c.ok() && l.getFinalState()) {
    c.fail("a final state result needs a state operand");
  }
  results.push_back({q[0], q[1], q[2], v[3]});
  if (l.getState())
    results.push_back({q[0], q[1], q[3], v[3]});
}

/// attn.attention_grad: the forward's operands and output, the cotangents;
/// the gradients have the shapes of what they differentiate.
void checkAttentionGrad(ShapeChecker &c, AttentionGradOp g,
                        SmallVectorImpl<Shape> &results) {
  Shape s = checkScoreOperands(c, g.getQuery(), g.getKey());
  checkMaskOperands(c, g.getPatterns(), g.getMaskOperands(), s,
                    !g.getPositions().empty());
  SmallVector<Shape> forward;
  checkAggregation(c, s, g.getKind(), g.getValue(), g.getSinks(), g.getOutput(),
                   g.getLse(), forward);
  if (!c.ok())
    return;
  if (g.getKind() == AggregationKind::softmax && !g.getLse())
    c.fail("softmax needs the forward's lse operand");
  if (g.getGradLse() && !g.getLse())
    c.fail("grad_lse needs an lse operand");
  Shape o = c.ranked(g.getOutput(), 4, "output");
  for (unsigned d = 0; d < 4; ++d)
    c.equal(o[d], forward[0][d], "output shape differs from the forward's");
  if (g.getGradOutput().getType() != g.getOutput().getType())
    c.fail("grad output type must be the output type");
  // (Without lse the error above stands; there is no type to compare.)
  if (g.getGradLse() && g.getLse() &&
      g.getGradLse().getType() != g.getLse().getType())
    c.fail("grad_lse type must be the lse type");
  if (g.getLse()) {
    Shape l = c.ranked(g.getLse(), 3, "lse");
    for (unsigned d = 0; d < 3; ++d)
      c.equal(l[d], forward[0][d], "lse must be the output shape without Dv");
  }
  if (static_cast<bool>(g.getSinks()) != static_cast<bool>(g.getGradSinks()))
    c.fail("a sinks gradient result is required exactly when sinks are given");
  if (g.getCaptures().size() != g.getGradCaptures().size())
    c.fail("expects one gradient result per captured tensor");
  if (!c.ok())
    return;
  auto same = [&](Value grad, Value of, StringRef what) {
    if (grad.getType() != of.getType())
      c.fail(Twine(what) + " gradient type must be the " + what + " type");
  };
  same(g.getGradQuery(), g.getQuery(), "query");
  same(g.getGradKey(), g.getKey(), "key");
  same(g.getGradValue(), g.getValue(), "value");
  if (g.getSinks())
    same(g.getGradSinks(), g.getSinks(), "sinks");
  for (auto [grad, of] : llvm::zip(g.getGradCaptures(), g.getCaptures()))
    same(grad, of, "captured tensor");
}

/// attn.linear_aggregate_grad: as the forward, plus output and cotangent.
void checkLinearAggregateGrad(ShapeChecker &c, LinearAggregateGradOp g) {
  Shape q = c.ranked(g.getQuery(), 4, "query features");
  Shape k = c.ranked(g.getKey(), 4, "key features");
  Shape v = c.ranked(g.getValue(), 4, "value");
  Shape o = c.ranked(g.getOutput(), 4, "output");
  c.equal(q[0], k[0], "query and key batch sizes differ");
  c.equal(k[0], v[0], "key and value batch sizes differ");
  c.equal(q[3], k[3], "query and key feature dimensions differ");
  c.equal(k[1], v[1], "key and value head counts differ");
  c.equal(k[2], v[2], "key and value lengths differ");
  c.divides(k[1], q[1], "key");
  c.atLeastOne(q[3], "feature dimension F of the query features");
  c.isStatic(v[3], "value head dimension Dv");
  c.atLeastOne(v[3], "value head dimension Dv");
  Shape expected = {q[0], q[1], q[2], v[3]};
  for (unsigned d = 0; d < 4; ++d)
    c.equal(o[d], expected[d], "output shape differs from the forward's");
  if (g.getDecay()) {
    if (!g.getCausal())
      c.fail("decay requires causal");
    Shape d = c.ranked(g.getDecay(), 1, "decay");
    c.equal(d[0], q[1], "decay needs one value per query head");
  }
  if (c.ok() && g.getEps().convertToDouble() < 0)
    c.fail("eps must be non-negative");
  if (c.ok() && g.getGradOutput().getType() != g.getOutput().getType())
    c.fail("grad output type must be the output type");
  if (c.ok() &&
      static_cast<bool>(g.getDecay()) != static_cast<bool>(g.getGradDecay()))
    c.fail("a decay gradient result is required exactly when decay is given");
  if (!c.ok())
    return;
  if (g.getGradQuery().getType() != g.getQuery().getType() ||
      g.getGradKey().getType() != g.getKey().getType() ||
      g.getGradValue().getType() != g.getValue().getType() ||
      (g.getDecay() && g.getGradDecay().getType() != g.getDecay().getType()))
    c.fail("each gradient must have the type of what it differentiates");
}

/// attn.select_blocks: the options, the representatives and the block grid.
void checkSelectBlocks(ShapeChecker &c, SelectBlocksOp sb,
                       SmallVectorImpl<Shape> &results) {
  c.positive(sb.getBlockQ(), "block_q");
  c.positive(sb.getBlockKv(), "block_kv");
  c.positive(sb.getTopK(), "top_k");
  if (c.ok() && sb.getPool() != "mean" && sb.getPool() != "max")
    c.fail("pool must be \"mean\" or \"max\", got \"" + sb.getPool() + "\"");
  Shape q = c.ranked(sb.getQuery(), 4, "query");
  Shape k = c.ranked(sb.getKey(), 4, "key");
  c.equal(q[0], k[0], "query and key batch sizes differ");
  c.divides(k[1], q[1], "key");
  int64_t nqb = c.ceilDiv(q[2], sb.getBlockQ());
  int64_t nkb = c.ceilDiv(k[2], sb.getBlockKv());
  int64_t repDim = kDyn;
  if (Value reps = sb.getReps()) {
    Shape r = c.ranked(reps, 4, "reps");
    c.equal(r[0], q[0], "reps batch size differs from the query's");
    c.divides(r[1], q[1], "reps");
    c.equal(r[2], nkb, "reps need one row per key block");
    repDim = r[3];
  }
  if (Value qreps = sb.getQreps()) {
    Shape r = c.ranked(qreps, 4, "qreps");
    c.equal(r[0], q[0], "qreps batch size differs from the query's");
    c.equal(r[1], q[1], "qreps need one head per query head");
    c.equal(r[2], nqb, "qreps need one row per query block");
    c.equal(r[3], sb.getReps() ? repDim : k[3],
            "qreps dimension differs from the key representatives'");
  } else {
    c.equal(q[3], sb.getReps() ? repDim : k[3],
            "query dimension differs from the key representatives'");
  }
  results.push_back({q[0], q[1], nqb, nkb});
}

} // namespace

bool mlir::attn::checkAttnOpShapes(Operation *op, ShapeFn shapeOf,
                                   SmallVectorImpl<Shape> &results,
                                   std::string &error, SizeRecorder *recorder) {
  ShapeChecker c(shapeOf, error, recorder);
  results.clear();
  llvm::TypeSwitch<Operation *>(op)
      .Case<ScoreOp>([&](ScoreOp s) {
        results.push_back(checkScoreOperands(c, s.getQuery(), s.getKey()));
      })
      .Case<ScoreModOp>([&](ScoreModOp s) {
        results.push_back(c.ranked(s.getScores(), 4, "scores"));
      })
      .Case<NormalizeOp>([&](NormalizeOp s) {
        results.push_back(c.ranked(s.getScores(), 4, "scores"));
      })
      .Case<MaskOp>([&](MaskOp m) {
        Shape s = c.ranked(m.getScores(), 4, "scores");
        checkMaskOperands(c, m.getPatterns(), m.getMaskOperands(), s);
        results.push_back(s);
      })
      .Case<AggregateOp>([&](AggregateOp a) {
        Shape s = c.ranked(a.getScores(), 4, "scores");
        checkAggregation(c, s, a.getKind(), a.getValue(), a.getSinks(),
                         a.getOutput(), a.getLse(), results);
      })
      .Case<AttentionOp>([&](AttentionOp a) {
        Shape s = checkScoreOperands(c, a.getQuery(), a.getKey());
        checkMaskOperands(c, a.getPatterns(), a.getMaskOperands(), s,
                          !a.getPositions().empty());
        checkAggregation(c, s, a.getKind(), a.getValue(), a.getSinks(),
                         a.getOutput(), a.getLse(), results);
      })
      .Case<AttentionGradOp>(
          [&](AttentionGradOp g) { checkAttentionGrad(c, g, results); })
      .Case<LinearAggregateGradOp>(
          [&](LinearAggregateGradOp g) { checkLinearAggregateGrad(c, g); })
      .Case<MergeOp>([&](MergeOp m) { checkMerge(c, m, results); })
      .Case<FeatureMapOp>(
          [&](FeatureMapOp f) { checkFeatureMap(c, f, results); })
      .Case<LinearAggregateOp>(
          [&](LinearAggregateOp l) { checkLinearAggregate(c, l, results); })
      .Case<SelectBlocksOp>(
          [&](SelectBlocksOp sb) { checkSelectBlocks(c, sb, results); })
      .Case<SelectTopkOp>([&](SelectTopkOp t) {
        c.positive(t.getTopK(), "top_k");
        Shape s = c.ranked(t.getScores(), 4, "scores");
        results.push_back(
            {s[0], s[1], s[2], static_cast<int64_t>(t.getTopK())});
      })
      .Case<ClusterOp>([&](ClusterOp cl) {
        Shape x = c.ranked(cl.getInput(), 4, "input");
        Shape ct = c.ranked(cl.getCentroids(), 3, "centroids");
        c.equalOrOne(ct[0], x[1], "centroids head count");
        c.equal(ct[2], x[3], "centroid and input dimensions differ");
        results.push_back({x[0], x[1], x[2]});
      })
      .Case<LshOp>([&](LshOp l) {
        Shape x = c.ranked(l.getInput(), 4, "input");
        Shape p = c.ranked(l.getPlanes(), 2, "planes");
        c.equal(p[0], x[3], "planes rows must equal the input dimension D");
        if (c.ok() && c.isKnown(p[1]) && (p[1] < 1 || p[1] > 31))
          c.fail(llvm::formatv("lsh needs 1 to 31 planes, got {0}", p[1]));
        results.push_back({x[0], x[1], x[2]});
      })
      .Default([&](Operation *) {});
  return c.ok();
}
