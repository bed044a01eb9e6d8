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

/// A tensor that travels around the ring (K, V, the key ids of segments),
/// with its sequence axis and its two buffers.
struct Traveller {
  Value tensor;
  unsigned axis;
  Value bufferA, bufferB;
};

/// The (output, lse) accumulators of this rank's queries, f32.
struct Partial {
  Value output, lse;
};

class RingBuilder {
public:
  RingBuilder(RewriterBase &rw, AttentionOp op, RingLayout layout)
      : rw(rw), op(op), loc(op.getLoc()), g(rw, op.getLoc()),
        chunks(layout == RingLayout::Zigzag ? 2 : 1) {}

  FailureOr<SmallVector<Value>> build();
  /// Decoding across ranks: K/V sharded, queries replicated, one allreduce
  /// merge.
  FailureOr<SmallVector<Value>> buildDecode();

private:
  LogicalResult check();
  LogicalResult checkPatterns();
  /// A buffer of `t`'s type (its dynamic sizes read from `t`).
  Value allocateLike(Value t);
  /// `t` reduced elementwise over the ranks (mpi.allreduce), on every rank.
  Value allReduce(Value t, mpi::MPI_ReductionOpEnum reduction);
  void setUpRanks();
  void allocateTravellers();
  Partial step(Value t, Partial acc);
  Partial chunkPair(Value qc, Value kc, Value src, ArrayRef<Value> block,
                    Partial acc);
  Value chunkEmpty(Value qpos, Value kpos);
  SmallVector<Value> finish(Partial acc);

  /// The global position of chunk `c` (an index value) of rank `r`'s shard.
  Value chunkStart(Value r, Value c);
  /// Chunk `c` (m positions) of `t` along `axis`.
  Value chunkOf(Value t, unsigned axis, Value c);
  Value insertChunk(Value chunk, Value into, Value c);
  Value i32(Value index) {
    return arith::IndexCastOp::create(rw, loc, rw.getI32Type(), index);
  }
  Value add(Value a, Value b) { return arith::AddIOp::create(rw, loc, a, b); }
  Value sub(Value a, Value b) { return arith::SubIOp::create(rw, loc, a, b); }
  Value mul(Value a, Value b) { return arith::MulIOp::create(rw, loc, a, b); }
  Value rem(Value a, Value b) { return arith::RemUIOp::create(rw, loc, a, b); }

  RewriterBase &rw;
  AttentionOp op;
  Location loc;
  GenericBuilder g;
  /// Chunks per rank: 1 (contiguous) or 2 (zigzag).
  const int64_t chunks;
  bool decoding = false;
  Value comm, rank, size, next, prev;
  /// Positions per rank (n) and per chunk (m), as index values, and m as a
  /// static size where the shard length is static.
  Value n, m;
  OpFoldResult chunkSize;
  /// K, V, then the key ids of each #attn.segments.
  SmallVector<Traveller> travellers;
  /// Per mask operand: the traveller holding it, or -1 (query side, local).
  SmallVector<int> operandTraveller;
};

} // namespace

LogicalResult RingBuilder::checkPatterns() {
  if (op.getKind() != AggregationKind::softmax)
    return op.emitOpError("cannot run on the ring: partial results merge by "
                          "log-sum-exp, which needs softmax, got ")
           << stringifyAggregationKind(op.getKind());
  // Each block is an attn.attention with positions.
  for (Attribute p : op.getPatterns())
    if (!takesPositions(p))
      return op.emitOpError("cannot run on the ring: no ring form for ")
             << p << " (position patterns, #attn.segments and regions travel)";
  return success();
}

LogicalResult RingBuilder::check() {
  if (failed(checkPatterns()))
    return failure();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto kType = cast<RankedTensorType>(op.getKey().getType());
  int64_t sq = qType.getDimSize(2), skv = kType.getDimSize(2);
  if (!ShapedType::isDynamic(sq) && !ShapedType::isDynamic(skv) && sq != skv)
    return op.emitOpError("cannot run on the ring: it needs self-attention "
                          "shapes (Sq = Skv on every rank), got Sq = ")
           << sq << ", Skv = " << skv;
  if (chunks == 2 && !ShapedType::isDynamic(sq) && sq % 2 != 0)
    return op.emitOpError("cannot run on the ring: the zigzag layout needs "
                          "an even shard length, got ")
           << sq;
  return success();
}

void RingBuilder::setUpRanks() {
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
  n = g.sizeValue(op.getQuery(), 2);
  Value skv = g.sizeValue(op.getKey(), 2);
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
  int64_t staticN =
      cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
  chunkSize = ShapedType::isDynamic(staticN)
                  ? OpFoldResult(m)
                  : OpFoldResult(rw.getIndexAttr(staticN / chunks));
}

void RingBuilder::allocateTravellers() {
  travellers.push_back({op.getKey(), 2, {}, {}});
  travellers.push_back({op.getValue(), 2, {}, {}});
  ValueRange operands = op.getMaskOperands();
  for (Attribute p : op.getPatterns()) {
    unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    for (unsigned i = 0; i < count; ++i) {
      // #attn.segments: (query ids, key ids), the sequence axis last.
      if (isa<SegmentsAttr>(p) && i == 1) {
        Value ids = operands[i];
        operandTraveller.push_back(travellers.size());
        travellers.push_back(
            {ids,
             static_cast<unsigned>(
                 cast<RankedTensorType>(ids.getType()).getRank() - 1),
             {},
             {}});
      } else {
        operandTraveller.push_back(-1);
      }
    }
    operands = operands.drop_front(count);
  }
  for (Traveller &t : travellers) {
    t.bufferA = allocateLike(t.tensor);
    t.bufferB = allocateLike(t.tensor);
    Value own = bufferization::ToBufferOp::create(rw, loc, t.bufferA.getType(),
                                                  t.tensor, /*read_only=*/true);
    memref::CopyOp::create(rw, loc, own, t.bufferA);
  }
}

Value RingBuilder::chunkStart(Value r, Value c) {
  if (chunks == 1)
    return mul(r, n);
  // Chunk 0 is chunk r of the 2P, chunk 1 is chunk 2P - 1 - r.
  Value mirrored = sub(sub(mul(size, g.index(2)), g.index(1)), r);
  Value first =
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, c, g.index(0));
  return mul(arith::SelectOp::create(rw, loc, first, r, mirrored), m);
}

Value RingBuilder::chunkOf(Value t, unsigned axis, Value c) {
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

Value RingBuilder::insertChunk(Value chunk, Value into, Value c) {
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

Value RingBuilder::chunkEmpty(Value qpos, Value kpos) {
  MaskAnalysis analysis(op.getPatterns(), &op.getPredicate());
  if (analysis.isTrivial())
    return arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false));
  analysis.setKeyBase(kpos);
  // Empty for every (batch, head): per-head spans and regions reading b or h
  // differ between them.
  Value zero = g.index(0), one = g.index(1);
  Value last = sub(m, one);
  Value batch = g.sizeValue(op.getQuery(), 0);
  Value heads = g.sizeValue(op.getQuery(), 1);
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
        Value q = chunkOf(op.getQuery(), 2, qc);
        Value k = chunkOf(block[0], 2, kc), v = chunkOf(block[1], 2, kc);
        SmallVector<Value> maskOperands;
        for (auto [i, operand] : llvm::enumerate(op.getMaskOperands())) {
          int t = operandTraveller[i];
          Value data = t < 0 ? operand : block[t];
          unsigned axis = cast<RankedTensorType>(data.getType()).getRank() - 1;
          maskOperands.push_back(chunkOf(data, axis, t < 0 ? qc : kc));
        }
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
            op.getPatternsAttr(), maskOperands, /*sinks=*/Value(),
            ValueRange{qpos, kpos}, op.getScaleAttr(), /*alpha=*/nullptr);
        rw.cloneRegionBefore(op.getScoreMod(), part.getScoreMod(),
                             part.getScoreMod().end());
        rw.cloneRegionBefore(op.getPredicate(), part.getPredicate(),
                             part.getPredicate().end());
        Value partOut = part.getOutput();
        if (!outType.getElementType().isF32())
          partOut = elementwise(g, {partOut}, rw.getF32Type(),
                                [&](OpBuilder &nb, Location nl, ValueRange a) {
                                  return toF32(nb, nl, a[0]);
                                });
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
  MLIRContext *ctx = rw.getContext();
  Value src = rem(sub(add(rank, size), t), size);
  Value even = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq,
                                     rem(t, g.index(2)), g.index(0));
  Value nextI32 = i32(next), prevI32 = i32(prev);
  auto requestType = mpi::RequestType::get(ctx);
  SmallVector<Value> requests, block;
  for (auto [i, traveller] : llvm::enumerate(travellers)) {
    Value inHand = arith::SelectOp::create(rw, loc, even, traveller.bufferA,
                                           traveller.bufferB);
    Value arriving = arith::SelectOp::create(rw, loc, even, traveller.bufferB,
                                             traveller.bufferA);
    Value tag = arith::ConstantOp::create(rw, loc, rw.getI32IntegerAttr(i));
    requests.push_back(mpi::ISendOp::create(rw, loc, Type(), requestType,
                                            inHand, tag, nextI32, comm)
                           .getReq());
    requests.push_back(mpi::IRecvOp::create(rw, loc, Type(), requestType,
                                            arriving, tag, prevI32, comm)
                           .getReq());
    block.push_back(bufferization::ToTensorOp::create(
        rw, loc, traveller.tensor.getType(), inHand, /*restrict=*/true,
        /*writable=*/false));
  }
  // One attention in the IR for every chunk pair: a loop over the pairs
  // (zigzag) keeps the code, and the compile time, of one kernel.
  Value zero = g.index(0);
  if (chunks == 1) {
    acc = chunkPair(zero, zero, src, block, acc);
  } else {
    auto pairs = scf::ForOp::create(
        rw, loc, zero, g.index(chunks * chunks), g.index(1),
        ValueRange{acc.output, acc.lse},
        [&](OpBuilder &b, Location, Value pair, ValueRange args) {
          OpBuilder::InsertionGuard guard(rw);
          rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
          Value qc = arith::DivUIOp::create(rw, loc, pair, g.index(chunks));
          Value kc = arith::RemUIOp::create(rw, loc, pair, g.index(chunks));
          Partial next = chunkPair(qc, kc, src, block, {args[0], args[1]});
          scf::YieldOp::create(rw, loc, ValueRange{next.output, next.lse});
        });
    acc = {pairs.getResult(0), pairs.getResult(1)};
  }
  for (Value request : requests)
    mpi::Wait::create(rw, loc, Type(), request);
  return acc;
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
  Type elt = cast<RankedTensorType>(op.getOutput().getType()).getElementType();
  if (!elt.isF32())
    out =
        elementwise(g, {out}, elt, [&](OpBuilder &b, Location l, ValueRange a) {
          return fromF32(b, l, a[0], elt);
        });
  out = castTo(rw, loc, out, op.getOutput().getType());
  SmallVector<Value> results = {out};
  if (op.getLse())
    results.push_back(castTo(rw, loc, lse, op.getLse().getType()));
  return results;
}

FailureOr<SmallVector<Value>> RingBuilder::build() {
  if (failed(check()))
    return failure();
  setUpRanks();
  allocateTravellers();
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

Value RingBuilder::allocateLike(Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<Value> dynamicSizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamicSizes.push_back(g.sizeValue(t, d));
  return memref::AllocOp::create(
      rw, loc, MemRefType::get(type.getShape(), type.getElementType()),
      dynamicSizes);
}

Value RingBuilder::allReduce(Value t, mpi::MPI_ReductionOpEnum reduction) {
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
  // Regions receive raw query indices (i, not i + Skv - Sq) in the global
  // program; positions would give them the aligned ones.
  if (!op.getScoreMod().empty() || !op.getPredicate().empty())
    return op.emitOpError("cannot be decoded across ranks: no form for "
                          "regions yet (position patterns and "
                          "#attn.segments only)");
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
  Value out = part.getOutput(), lse = part.getLse();
  if (!outType.getElementType().isF32())
    out = elementwise(g, {out}, rw.getF32Type(),
                      [&](OpBuilder &b, Location l, ValueRange a) {
                        return toF32(b, l, a[0]);
                      });
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
    WalkResult walk = getOperation()->walk([&](Operation *op) {
      if (auto a = dyn_cast<AttentionOp>(op)) {
        if (a.getPositions().empty())
          attentions.push_back(a);
        return WalkResult::advance();
      }
      // What is not a fused attention would run on this rank's shard alone.
      if (isa<AttnDialect>(op->getDialect()) && !isa<YieldOp, MergeOp>(op)) {
        op->emitOpError("has no ring form: only fused attention "
                        "(attn.attention) runs across ranks");
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
  }
};

} // namespace
