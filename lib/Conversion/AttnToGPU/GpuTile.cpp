//===- GpuTile.cpp - GPU kernels for attn.attention -----------------------===//
//
// The GPU form of the fused op: one gpu.launch whose blocks are (query tile,
// query head, batch) and whose threads are the tile's query rows. Per block:
//
//   [lo, hi)  = the keys the mask analysis lets the tile see
//   for each key tile [j0, j0 + BK) in [lo, hi) that is not empty:
//     stage K and V rows (f32) in shared memory, all threads cooperating
//     each thread: s_t = <q, K_t> (+ score_mod, masked unless the tile is
//     full), m' = max(m, max_t s_t), p_t = exp(s_t - m'),
//     l = e^(m - m') l + sum p_t, acc = e^(m - m') acc + sum p_t V_t
//   o = acc / l (sinks in the denominator), lse = m + log l
//
// The query row and the accumulator are vectors over D and Dv (registers);
// a tile's scores sit in a small private buffer. Empty tiles are skipped by
// the whole block (the test is uniform, so the barriers stay convergent).
// Masks with run-time data (block_mask, segments, rows, dense) are evaluated
// per element here; csr and indices take the gather form.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToGPU/GpuTile.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUTILE
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

static MemRefType memrefIn(ArrayRef<int64_t> shape, Type elt,
                           gpu::AddressSpace space) {
  MLIRContext *ctx = elt.getContext();
  return MemRefType::get(shape, elt, MemRefLayoutAttrInterface(),
                         gpu::AddressSpaceAttr::get(ctx, space));
}

FailureOr<SmallVector<Value>>
mlir::attn::gpuTileAttention(RewriterBase &rw, AttentionOp op,
                             const GpuTileOptions &options) {
  if (hasKeyListPattern(op))
    return rw.notifyMatchFailure(op, "csr/indices: gather form");
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  const int64_t hq = dims->hq, hkv = dims->hkv, d = dims->d, dv = dims->dv;
  const int64_t group = hq / hkv;
  // Threads per query row: each holds 1/r of the query row and of the
  // accumulator (registers), the partial scores are summed by xor shuffles.
  // A power of two up to 32 dividing D and Dv; by default 2 from D = 128,
  // where one thread would hold 2 x 128 floats.
  int64_t rowThreads = options.rowThreads > 0 ? options.rowThreads
                       : d >= 128             ? 2
                                              : 1;
  if (rowThreads > 32 || !llvm::isPowerOf2_64(rowThreads) || d % rowThreads ||
      dv % rowThreads)
    rowThreads = 1;
  // At most 1024 threads per block.
  const int64_t blockQ = std::min<int64_t>(
      options.blockQ > 0 ? options.blockQ : 64, 1024 / rowThreads);
  const int64_t threads = blockQ * rowThreads;
  const int64_t dPart = d / rowThreads, dvPart = dv / rowThreads;
  // K and V tiles in f32 within 40 KiB (the static shared-memory limit is
  // 48 KiB): 64 keys by default, halved (also a given block-kv) until they
  // fit.
  int64_t blockKV = options.blockKV > 0 ? options.blockKV : 64;
  while (blockKV > 1 && blockKV * (d + dv) * 4 > 40 * 1024)
    blockKV /= 2;
  const AggregationKind kind = op.getKind();
  const bool softmax = kind == AggregationKind::softmax;

  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  Location loc = op.getLoc();
  KernelBuilder k(rw, loc);
  Type f32 = rw.getF32Type();
  auto vecD = VectorType::get({dPart}, f32);
  auto vecV = VectorType::get({dvPart}, f32);
  auto outTy = cast<RankedTensorType>(op.getOutput().getType());
  Type outElt = outTy.getElementType();
  auto eltOf = [](Value m) {
    return cast<MemRefType>(m.getType()).getElementType();
  };

  AttentionIO io(k, op);
  Value zero = k.idx(0), one = k.idx(1);
  Value numQTiles = arith::CeilDivUIOp::create(rw, loc, io.sq, k.idx(blockQ));
  Value offset = k.sub(io.skv, io.sq);
  MaskAnalysis analysis(op.getPatterns(), &op.getPredicate());
  // Block masks and segments also classify tiles at run time: a key tile
  // none of whose overlapping mask blocks is kept, or whose key segment ids
  // do not meet the query tile's, is empty. The other patterns with
  // run-time data make every tile partial.
  SmallVector<Attribute> staticPatterns;
  SmallVector<std::pair<BlockMaskAttr, Value>> blockMasks;
  SmallVector<std::pair<Value, Value>> segments; // query ids, key ids
  bool otherDynamic = false;
  {
    ValueRange operands = op.getMaskOperands();
    for (Attribute p : op.getPatterns()) {
      unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
      if (auto bm = dyn_cast<BlockMaskAttr>(p))
        blockMasks.push_back({bm, operands.front()});
      else if (isa<SegmentsAttr>(p))
        segments.push_back({operands[0], operands[1]});
      else if (count)
        otherDynamic = true;
      else
        staticPatterns.push_back(p);
      operands = operands.drop_front(count);
    }
  }
  const bool runTimeClasses = !blockMasks.empty() || !segments.empty();
  MaskAnalysis staticAnalysis(rw.getArrayAttr(staticPatterns),
                              &op.getPredicate());
  const double scale = op.getEffectiveScale();

  auto launch = gpu::LaunchOp::create(
      rw, loc, numQTiles, k.idx(hq), io.batch, k.idx(threads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{},
      TypeRange{memrefIn({blockKV, d}, f32, gpu::AddressSpace::Workgroup),
                memrefIn({blockKV, dv}, f32, gpu::AddressSpace::Workgroup)},
      TypeRange{memrefIn({blockKV}, f32, gpu::AddressSpace::Private)});
  {
    OpBuilder::InsertionGuard bodyGuard(rw);
    Block &body = launch.getBody().front();
    rw.setInsertionPointToStart(&body);
    gpu::KernelDim3 blockIds = launch.getBlockIds();
    gpu::KernelDim3 threadIds = launch.getThreadIds();
    Value kTile = launch.getWorkgroupAttributions()[0];
    Value vTile = launch.getWorkgroupAttributions()[1];
    Value scores = launch.getPrivateAttributions()[0];
    Value tid = threadIds.x, bi = blockIds.z, hi = blockIds.y;
    Value rowThreadsV = k.idx(rowThreads);
    Value part = arith::RemUIOp::create(rw, loc, tid, rowThreadsV);
    Value dOff = k.mul(part, k.idx(dPart)), dvOff = k.mul(part, k.idx(dvPart));
    Value i0 = k.mul(blockIds.x, k.idx(blockQ));
    Value i = k.add(i0, arith::DivUIOp::create(rw, loc, tid, rowThreadsV));
    Value rowValid =
        arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult, i, io.sq);
    Value hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
    Value iLast = k.sub(k.minI(k.add(i0, k.idx(blockQ)), io.sq), one);
    QueryTile tile{bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
    Value lo, keyEnd;
    std::tie(lo, keyEnd) = analysis.keyRange(rw, loc, tile, io.skv);

    // This thread's part of the scaled query row. Rows past Sq compute
    // with row 0 (every thread takes part in the shuffles and barriers)
    // and write nothing.
    Value iSafe = k.select(rowValid, i, zero);
    Value q = k.vload(VectorType::get({dPart}, eltOf(io.q)), io.q,
                      {bi, hi, iSafe, dOff});
    q = k.fmul(k.toF32(q), k.splat(vecD, scale));

    Value ninf = k.negInf(), zeroF = k.f32(0.0);
    auto weight = [&](Value x, Value mSafe) {
      return k.select(k.feq(x, ninf), zeroF, k.exp(k.fsub(x, mSafe)));
    };
    // A row slice of a staged tile. Slices of a multiple of 4 floats are
    // 16-byte aligned (the shared buffers are, attn-gpu-align-shared): one
    // 128-bit shared load per 4 floats instead of 4 scalar ones.
    auto sliceLoad = [&](VectorType type, Value tileBuf, Value t, Value off) {
      llvm::MaybeAlign align;
      if (type.getNumElements() % 4 == 0)
        align = llvm::Align(16);
      return vector::LoadOp::create(rw, loc, type, tileBuf, ValueRange{t, off},
                                    /*nontemporal=*/false, align)
          .getResult();
    };
    // Stages rows [j0, j0 + count) of `src` ([B, Hkv, S, n]) in `tile`.
    auto stage = [&](Value src, Value dst, int64_t n, Value j0, Value count) {
      Value total = k.mul(count, k.idx(n));
      k.loop(tid, total, threads, [&](Value e) {
        Value r = arith::DivUIOp::create(rw, loc, e, k.idx(n));
        Value c = arith::RemUIOp::create(rw, loc, e, k.idx(n));
        k.store(k.toF32(k.load(src, {bi, hk, k.add(j0, r), c})), dst, {r, c});
      });
    };

    // The query tile's segment id range, per segments pattern (once per
    // block).
    SmallVector<std::pair<Value, Value>> queryIds;
    auto minMax = [&](Value ids, Value lo, Value hiPos) {
      Value first = segmentIdAt(rw, loc, ids, bi, hi, lo);
      SmallVector<Value> mm = k.reduceMany(
          k.add(lo, one), k.add(hiPos, one), 1, ValueRange{first, first},
          [&](Value p, ValueRange a) -> SmallVector<Value> {
            Value id = segmentIdAt(rw, loc, ids, bi, hi, p);
            return {arith::MinSIOp::create(rw, loc, a[0], id),
                    arith::MaxSIOp::create(rw, loc, a[1], id)};
          });
      return std::make_pair(mm[0], mm[1]);
    };
    for (auto &seg : segments)
      queryIds.push_back(minMax(seg.first, tile.iLo, tile.iHi));

    // The tile's class from the static patterns, the block masks' blocks
    // overlapping it and the segment id ranges (the same for every thread
    // of the block).
    auto classifyAtRunTime = [&](const QueryTile &qt, Value jLo, Value jHi) {
      TileClass cls = staticAnalysis.classify(rw, loc, qt, jLo, jHi);
      Value anyEmpty =
          arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false));
      Value allFull = arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
      for (auto [n, seg] : llvm::enumerate(segments)) {
        auto [kMin, kMax] = minMax(seg.second, jLo, jHi);
        Value qMin = queryIds[n].first, qMax = queryIds[n].second;
        auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
          return arith::CmpIOp::create(rw, loc, p, x, y).getResult();
        };
        // Disjoint id ranges: no pair meets. One id on both sides: every
        // pair does.
        Value disjoint = arith::OrIOp::create(
            rw, loc, cmp(arith::CmpIPredicate::slt, qMax, kMin),
            cmp(arith::CmpIPredicate::slt, kMax, qMin));
        Value single = arith::AndIOp::create(
            rw, loc,
            arith::AndIOp::create(rw, loc,
                                  cmp(arith::CmpIPredicate::eq, qMin, qMax),
                                  cmp(arith::CmpIPredicate::eq, kMin, kMax)),
            cmp(arith::CmpIPredicate::eq, qMin, kMin));
        anyEmpty = arith::OrIOp::create(rw, loc, anyEmpty, disjoint);
        allFull = arith::AndIOp::create(rw, loc, allFull, single);
      }
      for (auto &blockMask : blockMasks) {
        BlockMaskAttr bm = blockMask.first;
        Value mask = blockMask.second;
        Value bq = k.idx(bm.getBlockQ()), bkv = k.idx(bm.getBlockKv());
        auto div = [&](Value x, Value y) {
          return arith::DivUIOp::create(rw, loc, x, y).getResult();
        };
        Value bIdx = broadcastIndex(rw, loc, mask, 0, bi);
        Value hIdx = broadcastIndex(rw, loc, mask, 1, hi);
        SmallVector<Value> anyAll = k.reduceMany(
            div(qt.iLo, bq), k.add(div(qt.iHi, bq), one), 1,
            ValueRange{
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false)),
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true))},
            [&](Value qb, ValueRange acc) -> SmallVector<Value> {
              return k.reduceMany(
                  div(jLo, bkv), k.add(div(jHi, bkv), one), 1, acc,
                  [&](Value kb, ValueRange a) -> SmallVector<Value> {
                    Value kept = tensor::ExtractOp::create(
                        rw, loc, mask, ValueRange{bIdx, hIdx, qb, kb});
                    return {arith::OrIOp::create(rw, loc, a[0], kept),
                            arith::AndIOp::create(rw, loc, a[1], kept)};
                  });
            });
        anyEmpty = arith::OrIOp::create(
            rw, loc, anyEmpty,
            arith::XOrIOp::create(
                rw, loc, anyAll[0],
                arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true))));
        allFull = arith::AndIOp::create(rw, loc, allFull, anyAll[1]);
      }
      cls.empty = arith::OrIOp::create(rw, loc, cls.empty, anyEmpty);
      cls.full =
          otherDynamic
              ? arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false))
                    .getResult()
              : arith::AndIOp::create(rw, loc, cls.full, allFull).getResult();
      return cls;
    };

    SmallVector<Value> inits = {ninf, zeroF, k.splat(vecV, 0.0)};
    SmallVector<Value> state = k.reduceMany(
        lo, keyEnd, blockKV, inits,
        [&](Value j0, ValueRange st) -> SmallVector<Value> {
          Value jEnd = k.minI(k.add(j0, k.idx(blockKV)), keyEnd);
          Value count = k.sub(jEnd, j0);
          TileClass cls =
              runTimeClasses
                  ? classifyAtRunTime(tile, j0, k.sub(jEnd, one))
                  : analysis.classify(rw, loc, tile, j0, k.sub(jEnd, one));
          auto ifOp = scf::IfOp::create(rw, loc, TypeRange(st), cls.empty,
                                        /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard g(rw);
            rw.setInsertionPointToStart(ifOp.thenBlock());
            scf::YieldOp::create(rw, loc, st);
            rw.setInsertionPointToStart(ifOp.elseBlock());
            stage(io.key, kTile, d, j0, count);
            stage(io.v, vTile, dv, j0, count);
            gpu::BarrierOp::create(rw, loc);
            {
              // Every thread computes (the shuffles need the whole warp);
              // rows past Sq use row 0's indices and write nothing.
              // The tile's scores (masked: -inf), and their max.
              Value tileMax =
                  k.reduce(zero, count, 1, ninf, [&](Value t, Value mx) {
                    Value j = k.add(j0, t);
                    Value kRow = sliceLoad(vecD, kTile, t, dOff);
                    // Reassociable: a tree of adds, not a chain of D dependent
                    // ones (the order a strict reduction imposes).
                    Value s = vector::ReductionOp::create(
                        rw, loc, vector::CombiningKind::ADD,
                        arith::MulFOp::create(rw, loc, q, kRow,
                                              arith::FastMathFlags::contract),
                        arith::FastMathFlags::reassoc |
                            arith::FastMathFlags::contract);
                    // The row's threads are neighbours in the warp: a butterfly
                    // of xor shuffles gives each of them the whole sum.
                    for (int64_t off = 1; off < rowThreads; off *= 2)
                      s = k.fadd(s, gpu::ShuffleOp::create(
                                        rw, loc, s, static_cast<int32_t>(off),
                                        /*width=*/32, gpu::ShuffleMode::XOR)
                                        .getShuffleResult());
                    if (!op.getScoreMod().empty())
                      s = inlineRegion(rw, op.getScoreMod(),
                                       {s, bi, hi, iSafe, j});
                    if (!analysis.isTrivial() || runTimeClasses) {
                      auto keepIf = scf::IfOp::create(rw, loc, rw.getI1Type(),
                                                      cls.full, true);
                      OpBuilder::InsertionGuard g3(rw);
                      rw.setInsertionPointToStart(keepIf.thenBlock());
                      scf::YieldOp::create(rw, loc,
                                           arith::ConstantOp::create(
                                               rw, loc, rw.getBoolAttr(true))
                                               .getResult());
                      rw.setInsertionPointToStart(keepIf.elseBlock());
                      MaskPredicateBuilder pb(rw, loc, io.sq, io.skv);
                      pb.setIndices(bi, hi, iSafe, j);
                      scf::YieldOp::create(rw, loc,
                                           pb.buildAll(op.getPatterns(),
                                                       op.getMaskOperands(),
                                                       op.getPredicate()));
                      rw.setInsertionPointAfter(keepIf);
                      s = k.select(keepIf.getResult(0), s, ninf);
                    }
                    if (kind == AggregationKind::sigmoid)
                      s = k.select(
                          k.feq(s, ninf), zeroF,
                          k.fdiv(k.f32(1.0),
                                 k.fadd(k.f32(1.0), k.exp(arith::NegFOp::create(
                                                        rw, loc, s)))));
                    else if (!softmax)
                      s = k.select(k.feq(s, ninf), zeroF, s);
                    k.store(s, scores, t);
                    return k.fmax(mx, s);
                  });
              Value m = st[0], l = st[1], acc = st[2];
              SmallVector<Value> next;
              if (softmax) {
                Value mNew = k.fmax(m, tileMax), mSafe = k.safeMax(mNew);
                Value alpha = weight(m, mSafe);
                SmallVector<Value> sums = k.reduceMany(
                    zero, count, 1,
                    ValueRange{k.fmul(l, alpha),
                               k.fmul(acc, k.bcast(vecV, alpha))},
                    [&](Value t, ValueRange a) -> SmallVector<Value> {
                      Value p = weight(k.load(scores, t), mSafe);
                      Value vRow = sliceLoad(vecV, vTile, t, dvOff);
                      return {k.fadd(a[0], p),
                              k.fma(k.bcast(vecV, p), vRow, a[1])};
                    });
                next = {mNew, sums[0], sums[1]};
              } else {
                Value sum =
                    k.reduce(zero, count, 1, acc, [&](Value t, Value a) {
                      Value vRow = sliceLoad(vecV, vTile, t, dvOff);
                      return k.fma(k.bcast(vecV, k.load(scores, t)), vRow, a);
                    });
                next = {m, l, sum};
              }
              // The next tile overwrites the staged rows.
              gpu::BarrierOp::create(rw, loc);
              scf::YieldOp::create(rw, loc, next);
            }
          }
          return SmallVector<Value>(ifOp.getResults());
        });

    k.ifThen(rowValid, [&] {
      Value factor = k.f32(1.0), lse;
      if (softmax)
        std::tie(factor, lse) = k.finishSoftmax(
            state[0], state[1], io.sinks ? k.load(io.sinks, hi) : Value());
      Value o = k.fromF32(k.fmul(state[2], k.bcast(vecV, factor)), outElt);
      k.vstore(o, io.out, {bi, hi, i, dvOff});
      if (io.lse)
        k.ifThen(arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, part,
                                       zero),
                 [&] { k.store(lse, io.lse, {bi, hi, i}); });
    });
    gpu::TerminatorOp::create(rw, loc);
  }
  return io.results(k);
}

namespace {
struct GpuTileAttention : OpRewritePattern<AttentionOp> {
  GpuTileAttention(MLIRContext *ctx, GpuTileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> out = gpuTileAttention(rewriter, op, options);
    if (failed(out))
      return failure();
    rewriter.replaceOp(op, *out);
    return success();
  }
  GpuTileOptions options;
};

struct AttnGpuTilePass : attn::impl::AttnGpuTileBase<AttnGpuTilePass> {
  using AttnGpuTileBase::AttnGpuTileBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateGpuTilePatterns(patterns, {blockQ, blockKV, rowThreads});
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::attn::populateGpuTilePatterns(RewritePatternSet &patterns,
                                         const GpuTileOptions &options) {
  patterns.add<GpuTileAttention>(patterns.getContext(), options);
}
