//===- Ring.cpp - sequence parallelism: attention over an MPI ring --------===//
//
// Every fused attention becomes a loop of P steps (P = the ranks of
// MPI_COMM_WORLD, read at run time). The K/V blocks, and the key ids of
// #attn.segments, live in two buffers each: in step t the block in hand
// (rank (r - t) mod P's) is sent to rank r+1 while the next one arrives from
// rank r-1 into the other buffer, and the queries of this rank attend to the
// block in hand through attn.attention with `positions` (the chunks' global
// positions), one call per (query chunk, key chunk) pair that the mask
// analysis does not prove empty. Partial results merge by log-sum-exp
// (attn.merge) into f32 accumulators; sinks are folded in once at the end.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Ring.h"
#include "attn/IR/MaskPatterns.h"
#include "attn/Transforms/GenericBuilder.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MPI/IR/MPI.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNRING
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

std::optional<RingLayout> mlir::attn::parseRingLayout(StringRef name) {
  if (name == "zigzag")
    return RingLayout::Zigzag;
  if (name == "contiguous")
    return RingLayout::Contiguous;
  return std::nullopt;
}

namespace {

/// A tensor that travels around the ring (K, V, the key ids of segments,
/// the backward's dK and dV), with its sequence axis and its two buffers.
struct Traveller {
  Value tensor;
  unsigned axis;
  Value bufferA, bufferB;
};

/// The (output, lse) accumulators of this rank's queries, f32.
struct Partial {
  Value output, lse;
};

/// What the forward and the backward rings share: the ranks, the layout's
/// chunks, K/V and the key ids as travellers, their transfers, and the
/// proof that a chunk pair is empty. `OpT` is attn.attention or its
/// gradient, which name their operands alike.
class RingCommon {
protected:
  template <typename OpT>
  RingCommon(RewriterBase &rw, OpT op, RingLayout layout)
      : rw(rw), target(op), loc(op.getLoc()), g(rw, op.getLoc()),
        chunks(layout == RingLayout::Zigzag ? 2 : 1), kind(op.getKind()),
        query(op.getQuery()), key(op.getKey()), value(op.getValue()),
        patterns(op.getPatterns()), maskOperands(op.getMaskOperands()),
        predicate(&op.getPredicate()) {}

  LogicalResult check();
  LogicalResult checkPatterns();
  /// A buffer of `t`'s type (its dynamic sizes read from `t`).
  Value allocateLike(Value t);
  /// `t` reduced elementwise over the ranks (mpi.allreduce), on every rank.
  Value allReduce(Value t, mpi::MPI_ReductionOpEnum reduction);
  void setUpRanks();
  /// A traveller for `t` along `axis`, starting in its buffer A.
  Traveller addTraveller(Value t, unsigned axis);
  void allocateKeyTravellers();
  /// Whether step `t` is even (i1): its travellers are in their buffers A.
  Value isEvenStep(Value t);
  /// A step's transfers of `moving` (`even`: isEvenStep): the buffer in
  /// hand to rank r+1, the other from rank r−1, with tags from `firstTag`.
  /// Returns the requests and appends the tensors in hand to `inHand`
  /// (when given).
  SmallVector<Value> postTransfers(Value even, ArrayRef<Traveller> moving,
                                   unsigned firstTag,
                                   SmallVectorImpl<Value> *inHand);
  /// The buffer of `tr` in hand in a step of parity `even`.
  Value bufferInHand(const Traveller &tr, Value even) {
    return arith::SelectOp::create(rw, loc, even, tr.bufferA, tr.bufferB);
  }
  /// `body(qc, kc, acc)` over the layout's chunk pairs, threading `acc`.
  SmallVector<Value> forEachChunkPair(
      ValueRange acc,
      function_ref<SmallVector<Value>(Value qc, Value kc, ValueRange acc)>
          body);
  /// The mask operands of chunk pair (qc, kc): query-side data local, the
  /// key side from the block in hand.
  SmallVector<Value> chunkMaskOperands(Value qc, Value kc,
                                       ArrayRef<Value> block);
  Value chunkEmpty(Value qpos, Value kpos);

  /// The global position of chunk `c` (an index value) of rank `r`'s shard.
  Value chunkStart(Value r, Value c);
  /// Chunk `c` (m positions) of `t` along `axis`.
  Value chunkOf(Value t, unsigned axis, Value c);
  Value insertChunk(Value chunk, Value into, Value c);
  /// `x` converted to f32 elementwise (unchanged when it is f32).
  Value toF32Tensor(Value x);
  /// `x` (f32) converted to the element type of `like`, with its type.
  Value fromF32Tensor(Value x, Type like);
  Value i32(Value index) {
    return arith::IndexCastOp::create(rw, loc, rw.getI32Type(), index);
  }
  Value add(Value a, Value b) { return arith::AddIOp::create(rw, loc, a, b); }
  Value sub(Value a, Value b) { return arith::SubIOp::create(rw, loc, a, b); }
  Value mul(Value a, Value b) { return arith::MulIOp::create(rw, loc, a, b); }
  Value rem(Value a, Value b) { return arith::RemUIOp::create(rw, loc, a, b); }

  RewriterBase &rw;
  Operation *target;
  Location loc;
  GenericBuilder g;
  /// Chunks per rank: 1 (contiguous) or 2 (zigzag).
  const int64_t chunks;
  const AggregationKind kind;
  const Value query, key, value;
  const ArrayAttr patterns;
  const SmallVector<Value> maskOperands;
  Region *const predicate;
  bool decoding = false;
  Value comm, rank, size, next, prev;
  /// Positions per rank (n) and per chunk (m), as index values, and m as a
  /// static size where the shard length is static.
  Value n, m;
  OpFoldResult chunkSize;
  /// K, V, then the key ids of each #attn.segments.
  SmallVector<Traveller> travellers;
  /// Per mask operand: the traveller holding it, kQuerySide (local, cut
  /// like the queries) or kReplicated (the sequence's, whole).
  static constexpr int kQuerySide = -1, kReplicated = -2;
  SmallVector<int> operandTraveller;
};

/// The forward ring (and decoding across ranks) of one attn.attention.
class RingBuilder : RingCommon {
public:
  RingBuilder(RewriterBase &rw, AttentionOp op, RingLayout layout)
      : RingCommon(rw, op, layout), op(op) {}

  FailureOr<SmallVector<Value>> build();
  /// Decoding across ranks: K/V sharded, queries replicated, one allreduce
  /// merge.
  FailureOr<SmallVector<Value>> buildDecode();

private:
  Partial step(Value t, Partial acc);
  Partial chunkPair(Value qc, Value kc, Value src, ArrayRef<Value> block,
                    Partial acc);
  SmallVector<Value> finish(Partial acc);

  AttentionOp op;
};

/// The backward ring of one attn.attention_grad: dQ accumulates here, dK and
/// dV travel with their K/V block and come home after P transfers.
class RingGradBuilder : RingCommon {
public:
  RingGradBuilder(RewriterBase &rw, AttentionGradOp op, RingLayout layout)
      : RingCommon(rw, op, layout), op(op) {}

  FailureOr<SmallVector<Value>> build();

private:
  /// This rank's accumulators: dQ and the captures' gradients, f32.
  SmallVector<Value> step(Value t, ValueRange acc);
  SmallVector<Value> chunkPair(Value qc, Value kc, Value src,
                               ArrayRef<Value> block, ValueRange acc);
  /// `part` (a chunk's gradient) added in f32 into chunk `c` of `acc`.
  Value addIntoChunk(Value acc, Value part, Value c);
  /// The sinks' gradient from this rank's rows: −Σ_{b,i} e^{sink−lse} Δ.
  Value sinkGradient();

  AttentionGradOp op;
  /// dK and dV, f32, after K, V and the key ids.
  SmallVector<Traveller> gradients;
};

} // namespace

LogicalResult RingCommon::checkPatterns() {
  if (kind != AggregationKind::softmax)
    return target->emitOpError(
               "cannot run on the ring: partial results merge by "
               "log-sum-exp, which needs softmax, got ")
           << stringifyAggregationKind(kind);
  // Each block is an attn.attention with positions.
  for (Attribute p : patterns)
    if (!takesPositions(p))
      return target->emitOpError("cannot run on the ring: no ring form for ")
             << p
             << " (position patterns, block masks, #attn.segments and "
                "regions travel)";
  return success();
}

LogicalResult RingCommon::check() {
  if (failed(checkPatterns()))
    return failure();
  auto qType = cast<RankedTensorType>(query.getType());
  auto kType = cast<RankedTensorType>(key.getType());
  int64_t sq = qType.getDimSize(2), skv = kType.getDimSize(2);
  if (!ShapedType::isDynamic(sq) && !ShapedType::isDynamic(skv) && sq != skv)
    return target->emitOpError(
               "cannot run on the ring: it needs self-attention "
               "shapes (Sq = Skv on every rank), got Sq = ")
           << sq << ", Skv = " << skv;
  if (chunks == 2 && !ShapedType::isDynamic(sq) && sq % 2 != 0)
    return target->emitOpError(
               "cannot run on the ring: the zigzag layout needs "
               "an even shard length, got ")
           << sq;
  return success();
}

void RingCommon::setUpRanks() {
  MLIRContext *ctx = rw.getContext();
  Type i32 = rw.getI32Type(), indexType = rw.getIndexType();
  comm = mpi::CommWorldOp::create(rw, loc, mpi::CommType::get(ctx));
  auto toIndex = [&](Value v) {
    return arith::IndexCastOp::create(rw, loc, indexType, v);
  };
  rank = toIndex(mpi::CommRankOp::create(rw, loc, Type(), i32, comm).getRank());
  size = toIndex(mpi::CommSizeOp::create(rw, loc, Type(), i32, comm).getSize());
  if (decoding)
    return;
  next = rem(add(rank, g.index(1)), size);
  prev = rem(sub(add(rank, size), g.index(1)), size);
  n = g.sizeValue(query, 2);
  Value skv = g.sizeValue(key, 2);
  // Static shapes were checked at compile time; these fold away for them.
  Value same = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, n, skv);
  cf::AssertOp::create(rw, loc, same,
                       "attn-ring: the ring needs Sq = Skv on every rank");
  m = chunks == 2 ? arith::DivUIOp::create(rw, loc, n, g.index(2)) : n;
  if (chunks == 2) {
    Value even = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                       rem(n, g.index(2)), g.index(0));
    cf::AssertOp::create(rw, loc, even,
                         "attn-ring: zigzag needs an even shard length");
  }
  int64_t staticN = cast<RankedTensorType>(query.getType()).getDimSize(2);
  chunkSize = ShapedType::isDynamic(staticN)
                  ? OpFoldResult(m)
                  : OpFoldResult(rw.getIndexAttr(staticN / chunks));
}

Traveller RingCommon::addTraveller(Value t, unsigned axis) {
  Traveller tr{t, axis, allocateLike(t), allocateLike(t)};
  Value own = bufferization::ToBufferOp::create(rw, loc, tr.bufferA.getType(),
                                                t, /*read_only=*/true);
  memref::CopyOp::create(rw, loc, own, tr.bufferA);
  return tr;
}

void RingCommon::allocateKeyTravellers() {
  travellers.push_back(addTraveller(key, 2));
  travellers.push_back(addTraveller(value, 2));
  ValueRange operands = maskOperands;
  for (Attribute p : patterns) {
    unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    for (unsigned i = 0; i < count; ++i) {
      // #attn.segments: (query ids, key ids), the sequence axis last.
      if (isa<SegmentsAttr>(p) && i == 1) {
        Value ids = operands[i];
        operandTraveller.push_back(travellers.size());
        travellers.push_back(addTraveller(
            ids, cast<RankedTensorType>(ids.getType()).getRank() - 1));
      } else if (isa<BlockMaskAttr>(p)) {
        // The sequence's block mask, read at global positions.
        operandTraveller.push_back(kReplicated);
      } else {
        operandTraveller.push_back(kQuerySide);
      }
    }
    operands = operands.drop_front(count);
  }
}

Value RingCommon::isEvenStep(Value t) {
  return arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                               rem(t, g.index(2)), g.index(0));
}

SmallVector<Value> RingCommon::postTransfers(Value even,
                                             ArrayRef<Traveller> moving,
                                             unsigned firstTag,
                                             SmallVectorImpl<Value> *inHand) {
  MLIRContext *ctx = rw.getContext();
  Value nextI32 = i32(next), prevI32 = i32(prev);
  auto requestType = mpi::RequestType::get(ctx);
  SmallVector<Value> requests;
  for (auto [i, traveller] : llvm::enumerate(moving)) {
    Value held = bufferInHand(traveller, even);
    Value arriving = arith::SelectOp::create(rw, loc, even, traveller.bufferB,
                                             traveller.bufferA);
    Value tag =
        arith::ConstantOp::create(rw, loc, rw.getI32IntegerAttr(firstTag + i));
    requests.push_back(mpi::ISendOp::create(rw, loc, Type(), requestType, held,
                                            tag, nextI32, comm)
                           .getReq());
    requests.push_back(mpi::IRecvOp::create(rw, loc, Type(), requestType,
                                            arriving, tag, prevI32, comm)
                           .getReq());
    if (inHand)
      inHand->push_back(bufferization::ToTensorOp::create(
          rw, loc, traveller.tensor.getType(), held, /*restrict=*/true,
          /*writable=*/false));
  }
  return requests;
}

SmallVector<Value> RingCommon::forEachChunkPair(
    ValueRange acc,
    function_ref<SmallVector<Value>(Value qc, Value kc, ValueRange acc)> body) {
  Value zero = g.index(0);
  if (chunks == 1)
    return body(zero, zero, acc);
  // One kernel in the IR for every chunk pair: a loop over the pairs keeps
  // the code, and the compile time, of one.
  auto pairs = scf::ForOp::create(
      rw, loc, zero, g.index(chunks * chunks), g.index(1), acc,
      [&](OpBuilder &b, Location, Value pair, ValueRange args) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        Value qc = arith::DivUIOp::create(rw, loc, pair, g.index(chunks));
        Value kc = arith::RemUIOp::create(rw, loc, pair, g.index(chunks));
        scf::YieldOp::create(rw, loc, body(qc, kc, args));
      });
  return pairs.getResults();
}

SmallVector<Value> RingCommon::chunkMaskOperands(Value qc, Value kc,
                                                 ArrayRef<Value> block) {
  SmallVector<Value> chunked;
  for (auto [i, operand] : llvm::enumerate(maskOperands)) {
    int t = operandTraveller[i];
    if (t == kReplicated) {
      chunked.push_back(operand);
      continue;
    }
    Value data = t == kQuerySide ? operand : block[t];
    unsigned axis = cast<RankedTensorType>(data.getType()).getRank() - 1;
    chunked.push_back(chunkOf(data, axis, t == kQuerySide ? qc : kc));
  }
  return chunked;
}

Value RingCommon::toF32Tensor(Value x) {
  if (cast<RankedTensorType>(x.getType()).getElementType().isF32())
    return x;
  return elementwise(g, {x}, rw.getF32Type(),
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       return toF32(b, l, a[0]);
                     });
}

Value RingCommon::fromF32Tensor(Value x, Type like) {
  Type elt = cast<RankedTensorType>(like).getElementType();
  if (!elt.isF32())
    x = elementwise(g, {x}, elt, [&](OpBuilder &b, Location l, ValueRange a) {
      return fromF32(b, l, a[0], elt);
    });
  return castTo(rw, loc, x, like);
}

Value RingCommon::chunkStart(Value r, Value c) {
  if (chunks == 1)
    return mul(r, n);
  // Chunk 0 is chunk r of the 2P, chunk 1 is chunk 2P - 1 - r.
  Value mirrored = sub(sub(mul(size, g.index(2)), g.index(1)), r);
  Value first =
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, c, g.index(0));
  return mul(arith::SelectOp::create(rw, loc, first, r, mirrored), m);
}

Value RingCommon::chunkOf(Value t, unsigned axis, Value c) {
  if (chunks == 1)
    return t;
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), rw.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rw, loc, t);
  SmallVector<OpFoldResult> strides(type.getRank(), rw.getIndexAttr(1));
  offsets[axis] = mul(c, m);
  sizes[axis] = chunkSize;
  return tensor::ExtractSliceOp::create(rw, loc, t, offsets, sizes, strides);
}

Value RingCommon::insertChunk(Value chunk, Value into, Value c) {
  // In place: the loop's accumulators must stay in their buffers.
  if (chunks == 1)
    return bufferization::MaterializeInDestinationOp::create(rw, loc, chunk,
                                                             into)
        .getResult();
  auto type = cast<RankedTensorType>(into.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), rw.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rw, loc, chunk);
  SmallVector<OpFoldResult> strides(type.getRank(), rw.getIndexAttr(1));
  offsets[2] = mul(c, m);
  return tensor::InsertSliceOp::create(rw, loc, chunk, into, offsets, sizes,
                                       strides);
}

Value RingCommon::chunkEmpty(Value qpos, Value kpos) {
  MaskAnalysis analysis(patterns, predicate);
  if (analysis.isTrivial())
    return arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false));
  analysis.setKeyBase(kpos);
  // Empty for every (batch, head): per-head spans and regions reading b or h
  // differ between them.
  Value zero = g.index(0), one = g.index(1);
  Value last = sub(m, one);
  Value batch = g.sizeValue(query, 0);
  Value heads = g.sizeValue(query, 1);
  Value qLast = add(qpos, last);
  Value allTrue = arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
  auto outer = scf::ForOp::create(
      rw, loc, zero, batch, one, ValueRange{allTrue},
      [&](OpBuilder &ob, Location, Value b, ValueRange outerAcc) {
        auto inner = scf::ForOp::create(
            ob, loc, zero, heads, one, outerAcc,
            [&](OpBuilder &ib, Location, Value h, ValueRange acc) {
              QueryTile tile{b, h, zero, last, qpos, qLast};
              TileClass cls = analysis.classify(ib, loc, tile, zero, last);
              Value both = arith::AndIOp::create(ib, loc, acc[0], cls.empty);
              scf::YieldOp::create(ib, loc, both);
            });
        scf::YieldOp::create(ob, loc, inner.getResults());
      });
  return outer.getResult(0);
}

Partial RingBuilder::chunkPair(Value qc, Value kc, Value src,
                               ArrayRef<Value> block, Partial acc) {
  Value qpos = chunkStart(rank, qc), kpos = chunkStart(src, kc);
  Value empty = chunkEmpty(qpos, kpos);
  auto ifOp = scf::IfOp::create(
      rw, loc, empty,
      [&](OpBuilder &b, Location l) {
        scf::YieldOp::create(b, l, ValueRange{acc.output, acc.lse});
      },
      [&](OpBuilder &b, Location l) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        Value q = chunkOf(query, 2, qc);
        Value k = chunkOf(block[0], 2, kc), v = chunkOf(block[1], 2, kc);
        auto qType = cast<RankedTensorType>(q.getType());
        auto vType = cast<RankedTensorType>(v.getType());
        auto outType = RankedTensorType::get(
            {qType.getDimSize(0), qType.getDimSize(1), qType.getDimSize(2),
             vType.getDimSize(3)},
            cast<RankedTensorType>(op.getOutput().getType()).getElementType());
        auto lseType = RankedTensorType::get(outType.getShape().drop_back(),
                                             rw.getF32Type());
        auto part = AttentionOp::create(
            rw, l, TypeRange{outType, lseType}, op.getKindAttr(), q, k, v,
            op.getPatternsAttr(), chunkMaskOperands(qc, kc, block),
            /*sinks=*/Value(), ValueRange{qpos, kpos}, op.getScaleAttr(),
            /*alpha=*/nullptr);
        rw.cloneRegionBefore(op.getScoreMod(), part.getScoreMod(),
                             part.getScoreMod().end());
        rw.cloneRegionBefore(op.getPredicate(), part.getPredicate(),
                             part.getPredicate().end());
        Value partOut = toF32Tensor(part.getOutput());
        Value accOut = chunkOf(acc.output, 2, qc);
        Value accLse = chunkOf(acc.lse, 2, qc);
        auto merged = MergeOp::create(
            rw, l, TypeRange{accOut.getType(), accLse.getType()},
            ValueRange{accOut, accLse, partOut, part.getLse()});
        scf::YieldOp::create(
            rw, l,
            ValueRange{insertChunk(merged.getOutput(), acc.output, qc),
                       insertChunk(merged.getLse(), acc.lse, qc)});
      });
  return {ifOp.getResult(0), ifOp.getResult(1)};
}

Partial RingBuilder::step(Value t, Partial acc) {
  Value src = rem(sub(add(rank, size), t), size);
  SmallVector<Value> block;
  SmallVector<Value> requests =
      postTransfers(isEvenStep(t), travellers, /*firstTag=*/0, &block);
  SmallVector<Value> merged = forEachChunkPair(
      ValueRange{acc.output, acc.lse},
      [&](Value qc, Value kc, ValueRange args) -> SmallVector<Value> {
        Partial next = chunkPair(qc, kc, src, block, {args[0], args[1]});
        return {next.output, next.lse};
      });
  for (Value request : requests)
    mpi::Wait::create(rw, loc, Type(), request);
  return {merged[0], merged[1]};
}

SmallVector<Value> RingBuilder::finish(Partial acc) {
  Value out = acc.output, lse = acc.lse;
  if (Value sinks = op.getSinks()) {
    // The sink logit joins each row's normaliser once: lse' = logaddexp(lse,
    // sink), O' = O · exp(lse − lse').
    auto ident3 = g.map(3, {g.d(0), g.d(1), g.d(2)});
    Value newLse = g.generic(
        {lse, sinks}, {ident3, g.map(3, {g.d(1)})},
        g.empty(tensor::getMixedSizes(rw, loc, lse), rw.getF32Type()), ident3,
        {kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value hi = arith::MaximumFOp::create(b, l, a[0], a[1]);
          Value lo = arith::MinimumFOp::create(b, l, a[0], a[1]);
          Value gap =
              math::ExpOp::create(b, l, arith::SubFOp::create(b, l, lo, hi));
          Value sum =
              arith::AddFOp::create(b, l, hi, math::Log1pOp::create(b, l, gap));
          // Both -inf: keep -inf instead of NaN.
          Value ninf = arith::ConstantOp::create(
              b, l, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
          Value none =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, hi, ninf);
          return arith::SelectOp::create(b, l, none, ninf, sum).getResult();
        });
    auto ident4 = g.map(4, {g.d(0), g.d(1), g.d(2), g.d(3)});
    auto rows = g.map(4, {g.d(0), g.d(1), g.d(2)});
    out = g.generic(
        {out, lse, newLse}, {ident4, rows, rows},
        g.empty(tensor::getMixedSizes(rw, loc, out), rw.getF32Type()), ident4,
        {kPar, kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value w = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, a[1], a[2]));
          return arith::MulFOp::create(b, l, a[0], w).getResult();
        });
    lse = newLse;
  }
  SmallVector<Value> results = {fromF32Tensor(out, op.getOutput().getType())};
  if (op.getLse())
    results.push_back(castTo(rw, loc, lse, op.getLse().getType()));
  return results;
}

FailureOr<SmallVector<Value>> RingBuilder::build() {
  if (failed(check()))
    return failure();
  setUpRanks();
  allocateKeyTravellers();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  SmallVector<OpFoldResult> outShape = {
      g.size(op.getQuery(), 0), rw.getIndexAttr(qType.getDimSize(1)),
      g.size(op.getQuery(), 2), g.size(op.getValue(), 3)};
  Type f32 = rw.getF32Type();
  Partial acc{g.filled(outShape, f32, g.f32(0.0)),
              g.filled(ArrayRef(outShape).drop_back(), f32, g.negInf())};
  auto loop = scf::ForOp::create(
      rw, loc, g.index(0), size, g.index(1), ValueRange{acc.output, acc.lse},
      [&](OpBuilder &b, Location, Value t, ValueRange args) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        Partial next = step(t, {args[0], args[1]});
        scf::YieldOp::create(rw, loc, ValueRange{next.output, next.lse});
      });
  // The double buffers are freed by the deallocation pipeline after the
  // loop, past the last wait.
  return finish({loop.getResult(0), loop.getResult(1)});
}

Value RingCommon::allocateLike(Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(g.sizeValue(t, d));
  return memref::AllocOp::create(
      rw, loc, MemRefType::get(type.getShape(), type.getElementType()),
      dynamicSizes);
}

Value RingCommon::allReduce(Value t, mpi::MPI_ReductionOpEnum reduction) {
  Value receive = allocateLike(t);
  Value send = bufferization::ToBufferOp::create(rw, loc, receive.getType(), t,
                                                 /*read_only=*/true);
  mpi::AllReduceOp::create(rw, loc, Type(), send, receive, reduction, comm);
  return bufferization::ToTensorOp::create(rw, loc, t.getType(), receive,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

FailureOr<SmallVector<Value>> RingBuilder::buildDecode() {
  decoding = true;
  if (failed(checkPatterns()))
    return failure();
  // Regions and block masks see raw query indices (i, not i + Skv - Sq)
  // in the global program; positions would give them the aligned ones.
  if (!op.getScoreMod().empty() || !op.getPredicate().empty())
    return op.emitOpError("cannot be decoded across ranks: no form for "
                          "regions yet (position patterns and "
                          "#attn.segments only)");
  for (Attribute p : patterns)
    if (isa<BlockMaskAttr>(p))
      return op.emitOpError("cannot be decoded across ranks: no form for ")
             << p << " yet (position patterns and #attn.segments only)";
  setUpRanks();
  // Rank r holds keys [r·n, (r+1)·n) of P·n; the queries are the last Sq
  // positions of the whole sequence (bottom-right alignment).
  Value keys = g.sizeValue(op.getKey(), 2);
  Value queries = g.sizeValue(op.getQuery(), 2);
  Value keyBase = mul(rank, keys);
  Value queryBase = sub(mul(size, keys), queries);
  auto outType = cast<RankedTensorType>(op.getOutput().getType());
  auto lseType =
      RankedTensorType::get(outType.getShape().drop_back(), rw.getF32Type());
  auto part = AttentionOp::create(
      rw, loc, TypeRange{outType, lseType}, op.getKindAttr(), op.getQuery(),
      op.getKey(), op.getValue(), op.getPatternsAttr(), op.getMaskOperands(),
      /*sinks=*/Value(), ValueRange{queryBase, keyBase}, op.getScaleAttr(),
      /*alpha=*/nullptr);
  Value out = toF32Tensor(part.getOutput()), lse = part.getLse();
  // The merge of attn.merge across ranks: with m the largest lse and
  // w = exp(lse - m) (0 for a rank that sees no key), O = Σ w·O / Σ w and
  // lse = m + log Σ w.
  using Reduction = mpi::MPI_ReductionOpEnum;
  Value top = allReduce(lse, Reduction::MPI_MAX);
  auto ident3 = g.map(3, {g.d(0), g.d(1), g.d(2)});
  auto ident4 = g.map(4, {g.d(0), g.d(1), g.d(2), g.d(3)});
  auto rows = g.map(4, {g.d(0), g.d(1), g.d(2)});
  auto emptyLike = [&](Value t) {
    return g.empty(tensor::getMixedSizes(rw, loc, t), rw.getF32Type());
  };
  Value ninf = g.negInf();
  Value weight = g.generic(
      {lse, top}, {ident3, ident3}, emptyLike(lse), ident3, {kPar, kPar, kPar},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value none =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[1], ninf);
        Value w =
            math::ExpOp::create(b, l, arith::SubFOp::create(b, l, a[0], a[1]));
        Value zero = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0));
        return arith::SelectOp::create(b, l, none, zero, w).getResult();
      });
  Value weighted = g.generic(
      {out, weight}, {ident4, rows}, emptyLike(out), ident4,
      {kPar, kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) {
        return arith::MulFOp::create(b, l, a[0], a[1]).getResult();
      });
  Value numerator = allReduce(weighted, Reduction::MPI_SUM);
  Value denominator = allReduce(weight, Reduction::MPI_SUM);
  Value merged = g.generic({numerator, denominator}, {ident4, rows},
                           emptyLike(out), ident4, {kPar, kPar, kPar, kPar},
                           [&](OpBuilder &b, Location l, ValueRange a) {
                             return safeDivide(b, l, a[0], a[1]);
                           });
  Value mergedLse = g.generic(
      {top, denominator}, {ident3, ident3}, emptyLike(lse), ident3,
      {kPar, kPar, kPar}, [&](OpBuilder &b, Location l, ValueRange a) {
        Value none =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[0], ninf);
        Value sum =
            arith::AddFOp::create(b, l, a[0], math::LogOp::create(b, l, a[1]));
        return arith::SelectOp::create(b, l, none, ninf, sum).getResult();
      });
  return finish({merged, mergedLse});
}

//===----------------------------------------------------------------------===//
// The backward ring
//===----------------------------------------------------------------------===//

Value RingGradBuilder::addIntoChunk(Value acc, Value part, Value c) {
  Value sum =
      elementwise(g, {chunkOf(acc, 2, c), toF32Tensor(part)}, rw.getF32Type(),
                  [](OpBuilder &b, Location l, ValueRange a) {
                    return arith::AddFOp::create(b, l, a[0], a[1]).getResult();
                  });
  return insertChunk(sum, acc, c);
}

SmallVector<Value> RingGradBuilder::chunkPair(Value qc, Value kc, Value src,
                                              ArrayRef<Value> block,
                                              ValueRange acc) {
  Value qpos = chunkStart(rank, qc), kpos = chunkStart(src, kc);
  Value empty = chunkEmpty(qpos, kpos);
  auto ifOp = scf::IfOp::create(
      rw, loc, empty,
      [&](OpBuilder &b, Location l) { scf::YieldOp::create(b, l, acc); },
      [&](OpBuilder &b, Location l) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        Value q = chunkOf(query, 2, qc);
        Value k = chunkOf(block[0], 2, kc), v = chunkOf(block[1], 2, kc);
        Value dLse =
            op.getGradLse() ? chunkOf(op.getGradLse(), 2, qc) : Value();
        ValueRange captures = op.getCaptures();
        // O, lse and their cotangents are the rows' results over the whole
        // sequence: this block's share of every gradient is a plain sum.
        auto part = AttentionGradOp::create(
            rw, l, q.getType(), k.getType(), v.getType(), /*gradSinks=*/Type(),
            captures.getTypes(), op.getKindAttr(), q, k, v,
            chunkOf(op.getOutput(), 2, qc), chunkOf(op.getGradOutput(), 2, qc),
            op.getPatternsAttr(), chunkMaskOperands(qc, kc, block),
            chunkOf(op.getLse(), 2, qc), dLse, /*sinks=*/Value(), captures,
            ValueRange{qpos, kpos}, op.getScaleAttr());
        rw.cloneRegionBefore(op.getScoreMod(), part.getScoreMod(),
                             part.getScoreMod().end());
        rw.cloneRegionBefore(op.getPredicate(), part.getPredicate(),
                             part.getPredicate().end());
        // acc: dQ, the captures', then the travelling dK and dV.
        unsigned numCaptures = captures.size();
        SmallVector<Value> next = {
            addIntoChunk(acc[0], part.getGradQuery(), qc)};
        // Added in place: the loop's accumulators stay in their buffers.
        for (auto [c, d] :
             llvm::zip(acc.slice(1, numCaptures), part.getGradCaptures())) {
          auto rank = cast<RankedTensorType>(c.getType()).getRank();
          AffineMap ident = rw.getMultiDimIdentityMap(rank);
          next.push_back(g.generic(
              {toF32Tensor(d)}, {ident}, c, ident,
              SmallVector<IteratorType>(rank, kPar),
              [](OpBuilder &nb, Location nl, ValueRange a) {
                return arith::AddFOp::create(nb, nl, a[1], a[0]).getResult();
              }));
        }
        next.push_back(
            addIntoChunk(acc[1 + numCaptures], part.getGradKey(), kc));
        next.push_back(
            addIntoChunk(acc[2 + numCaptures], part.getGradValue(), kc));
        scf::YieldOp::create(rw, l, next);
      });
  return ifOp.getResults();
}

SmallVector<Value> RingGradBuilder::step(Value t, ValueRange acc) {
  Value src = rem(sub(add(rank, size), t), size);
  Value even = isEvenStep(t);
  SmallVector<Value> block;
  SmallVector<Value> requests =
      postTransfers(even, travellers, /*firstTag=*/0, &block);
  // The block's dK and dV arrived with it (zeros at its owner): this rank
  // adds its share in their buffer and passes them on.
  SmallVector<Value> carried(acc), held;
  for (const Traveller &tr : gradients) {
    held.push_back(bufferInHand(tr, even));
    carried.push_back(bufferization::ToTensorOp::create(
        rw, loc, tr.tensor.getType(), held.back(), /*restrict=*/true,
        /*writable=*/true));
  }
  SmallVector<Value> summed =
      forEachChunkPair(carried, [&](Value qc, Value kc, ValueRange args) {
        return chunkPair(qc, kc, src, block, args);
      });
  for (auto [i, buffer] : llvm::enumerate(held)) {
    Value from = bufferization::ToBufferOp::create(
        rw, loc, buffer.getType(), summed[acc.size() + i], /*read_only=*/true);
    memref::CopyOp::create(rw, loc, from, buffer);
  }
  // Sent once complete, so this transfer does not overlap the step's
  // compute (docs/ring-attention.md).
  llvm::append_range(requests, postTransfers(even, gradients, travellers.size(),
                                             /*inHand=*/nullptr));
  for (Value request : requests)
    mpi::Wait::create(rw, loc, Type(), request);
  return SmallVector<Value>(summed.begin(), summed.begin() + acc.size());
}

Value RingGradBuilder::sinkGradient() {
  // Δ_i = dO_i · O_i − dlse_i (0 for a row that sees nothing), then
  // d(sink_h) = −Σ_{b,i} e^{sink_h − lse_i} Δ_i over this rank's rows.
  Value out = op.getOutput(), dOut = op.getGradOutput(), lse = op.getLse();
  Type f32 = rw.getF32Type();
  auto rows3 = g.map(3, {g.d(0), g.d(1), g.d(2)});
  auto ident4 = g.map(4, {g.d(0), g.d(1), g.d(2), g.d(3)});
  auto rows4 = g.map(4, {g.d(0), g.d(1), g.d(2)});
  Value dots = g.generic(
      {out, dOut}, {ident4, ident4},
      g.filled(tensor::getMixedSizes(rw, loc, lse), f32, g.f32(0.0)), rows4,
      {kPar, kPar, kPar, kRed}, [&](OpBuilder &b, Location l, ValueRange a) {
        Value prod =
            arith::MulFOp::create(b, l, toF32(b, l, a[0]), toF32(b, l, a[1]));
        return arith::AddFOp::create(b, l, a[2], prod).getResult();
      });
  SmallVector<Value> ins = {dots, lse, op.getSinks()};
  SmallVector<AffineMap> maps = {rows3, rows3, g.map(3, {g.d(1)})};
  if (Value dLse = op.getGradLse()) {
    ins.push_back(dLse);
    maps.push_back(rows3);
  }
  Value zero = g.f32(0.0), ninf = g.negInf();
  Value sums = g.generic(
      ins, maps, g.filled({g.size(op.getSinks(), 0)}, f32, zero),
      g.map(3, {g.d(1)}), {kRed, kPar, kRed},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value delta = a[0];
        if (a.size() == 5)
          delta = arith::SubFOp::create(b, l, delta, a[3]);
        Value w =
            math::ExpOp::create(b, l, arith::SubFOp::create(b, l, a[2], a[1]));
        Value term = arith::MulFOp::create(b, l, w, delta);
        Value none =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a[1], ninf);
        Value c0 = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0));
        term = arith::SelectOp::create(b, l, none, c0, term);
        return arith::SubFOp::create(b, l, a.back(), term).getResult();
      });
  return castTo(rw, loc, sums, op.getSinks().getType());
}

FailureOr<SmallVector<Value>> RingGradBuilder::build() {
  if (failed(check()))
    return failure();
  setUpRanks();
  allocateKeyTravellers();
  Type f32 = rw.getF32Type();
  auto zerosLike = [&](Value t) {
    return g.filled(tensor::getMixedSizes(rw, loc, t), f32, g.f32(0.0));
  };
  // dK and dV start at zero in buffer A; in each step one buffer travels
  // while the other receives.
  for (Value t : {key, value})
    gradients.push_back(addTraveller(zerosLike(t), 2));
  SmallVector<Value> acc = {zerosLike(query)};
  for (Value c : op.getCaptures())
    acc.push_back(zerosLike(c));
  auto loop = scf::ForOp::create(
      rw, loc, g.index(0), size, g.index(1), acc,
      [&](OpBuilder &b, Location, Value t, ValueRange args) {
        OpBuilder::InsertionGuard guard(rw);
        rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
        scf::YieldOp::create(rw, loc, step(t, args));
      });
  SmallVector<Value> results = {
      fromF32Tensor(loop.getResult(0), query.getType())};
  // P transfers later every block's dK and dV are home, in the buffer step
  // P would hold.
  Value keyAndValue[] = {key, value};
  Value evenP = isEvenStep(size);
  for (auto [tr, like] : llvm::zip(gradients, keyAndValue)) {
    Value home = bufferization::ToTensorOp::create(
        rw, loc, tr.tensor.getType(), bufferInHand(tr, evenP),
        /*restrict=*/true, /*writable=*/false);
    results.push_back(fromF32Tensor(home, like.getType()));
  }
  // The sinks' and captures' gradients are this rank's partial sums: the
  // caller reduces them over the ranks, as data parallelism does for
  // replicated parameters.
  if (op.getSinks())
    results.push_back(sinkGradient());
  for (auto [i, c] : llvm::enumerate(op.getCaptures()))
    results.push_back(fromF32Tensor(loop.getResult(1 + i), c.getType()));
  return results;
}

FailureOr<SmallVector<Value>>
mlir::attn::distributeOverRing(RewriterBase &rewriter, AttentionOp op,
                               RingLayout layout) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  return RingBuilder(rewriter, op, layout).build();
}

FailureOr<SmallVector<Value>>
mlir::attn::decodeAcrossRanks(RewriterBase &rewriter, AttentionOp op) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  return RingBuilder(rewriter, op, RingLayout::Contiguous).buildDecode();
}

FailureOr<SmallVector<Value>>
mlir::attn::distributeGradientOverRing(RewriterBase &rewriter,
                                       AttentionGradOp op, RingLayout layout) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  return RingGradBuilder(rewriter, op, layout).build();
}

//===----------------------------------------------------------------------===//
// Memory effects of the non-blocking transfers
//===----------------------------------------------------------------------===//

namespace {

/// The transfers in flight: ordered against each other and never erased.
struct MPIResource : SideEffects::Resource::Base<MPIResource> {
  StringRef getName() final { return "MPI"; }
};

template <typename OpTy, typename EffectTy>
struct TransferEffects
    : MemoryEffectOpInterface::ExternalModel<TransferEffects<OpTy, EffectTy>,
                                             OpTy> {
  void
  getEffects(Operation *op,
             SmallVectorImpl<MemoryEffects::EffectInstance> &effects) const {
    effects.emplace_back(EffectTy::get(), &cast<OpTy>(op).getRefMutable(),
                         SideEffects::DefaultResource::get());
    effects.emplace_back(MemoryEffects::Write::get(), MPIResource::get());
  }
};

struct WaitEffects
    : MemoryEffectOpInterface::ExternalModel<WaitEffects, mpi::Wait> {
  void
  getEffects(Operation *,
             SmallVectorImpl<MemoryEffects::EffectInstance> &effects) const {
    // A receive completes here: its buffer is written (by MPI) up to now.
    effects.emplace_back(MemoryEffects::Write::get(), MPIResource::get());
    effects.emplace_back(MemoryEffects::Write::get(),
                         SideEffects::DefaultResource::get());
  }
};

struct AllReduceEffects
    : MemoryEffectOpInterface::ExternalModel<AllReduceEffects,
                                             mpi::AllReduceOp> {
  void
  getEffects(Operation *op,
             SmallVectorImpl<MemoryEffects::EffectInstance> &effects) const {
    auto reduce = cast<mpi::AllReduceOp>(op);
    effects.emplace_back(MemoryEffects::Read::get(),
                         &reduce.getSendbufMutable(),
                         SideEffects::DefaultResource::get());
    effects.emplace_back(MemoryEffects::Write::get(),
                         &reduce.getRecvbufMutable(),
                         SideEffects::DefaultResource::get());
    effects.emplace_back(MemoryEffects::Write::get(), MPIResource::get());
  }
};

} // namespace

void mlir::attn::registerRingExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, mpi::MPIDialect *) {
    mpi::ISendOp::attachInterface<
        TransferEffects<mpi::ISendOp, MemoryEffects::Read>>(*ctx);
    mpi::IRecvOp::attachInterface<
        TransferEffects<mpi::IRecvOp, MemoryEffects::Write>>(*ctx);
    mpi::Wait::attachInterface<WaitEffects>(*ctx);
    mpi::AllReduceOp::attachInterface<AllReduceEffects>(*ctx);
  });
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {

struct AttnRingPass : attn::impl::AttnRingBase<AttnRingPass> {
  using AttnRingBase::AttnRingBase;
  void runOnOperation() override {
    std::optional<RingLayout> ringLayout = parseRingLayout(layout);
    if (!ringLayout) {
      getOperation()->emitError("attn-ring: unknown layout '")
          << layout << "' (expected zigzag or contiguous)";
      return signalPassFailure();
    }
    SmallVector<AttentionOp> attentions;
    SmallVector<AttentionGradOp> gradients;
    WalkResult walk = getOperation()->walk([&](Operation *op) {
      if (auto a = dyn_cast<AttentionOp>(op)) {
        if (a.getPositions().empty())
          attentions.push_back(a);
        return WalkResult::advance();
      }
      if (auto a = dyn_cast<AttentionGradOp>(op)) {
        if (decode) {
          op->emitOpError("has no decoding form: decoding across ranks "
                          "runs the forward only");
          return WalkResult::interrupt();
        }
        if (a.getPositions().empty())
          gradients.push_back(a);
        return WalkResult::advance();
      }
      // What is not a fused attention would run on this rank's shard alone.
      if (isa<AttnDialect>(op->getDialect()) && !isa<YieldOp, MergeOp>(op)) {
        op->emitOpError("has no ring form: only fused attention "
                        "(attn.attention and attn.attention_grad) runs "
                        "across ranks");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    IRRewriter rewriter(&getContext());
    for (AttentionOp a : attentions) {
      FailureOr<SmallVector<Value>> results =
          decode ? decodeAcrossRanks(rewriter, a)
                 : distributeOverRing(rewriter, a, *ringLayout);
      if (failed(results))
        return signalPassFailure();
      rewriter.replaceOp(a, *results);
    }
    for (AttentionGradOp a : gradients) {
      FailureOr<SmallVector<Value>> results =
          distributeGradientOverRing(rewriter, a, *ringLayout);
      if (failed(results))
        return signalPassFailure();
      rewriter.replaceOp(a, *results);
    }
  }
};

} // namespace
