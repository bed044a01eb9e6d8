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
#include "attn/Conversion/AttnToGPU/GpuTileGrad.h"
#include "attn/Conversion/Passes.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Kernel/OnlineSoftmax.h"
#include "attn/Transforms/Fuse.h"
#include "attn/Transforms/MaskAnalysis.h"

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

namespace {

/// Block and tile sizes of the kernel (the cost model).
struct GpuTileConfig {
  /// Threads per query row: each holds 1/rowThreads of the query row and of
  /// the accumulator (registers); the partial scores are summed by xor
  /// shuffles.
  int64_t rowThreads;
  /// Query rows and threads per block.
  int64_t blockQ, threads;
  /// Each thread's part of D and Dv.
  int64_t dPart, dvPart;
  /// Keys per staged tile.
  int64_t blockKV;
};

/// The op's mask split by how a tile is classified: patterns the mask
/// analysis classifies statically, block masks and segments (classified at
/// run time), and whether some other pattern has run-time data (every tile
/// is then partial).
struct MaskParts {
  SmallVector<Attribute> staticPatterns;
  SmallVector<std::pair<BlockMaskAttr, Value>> blockMasks;
  SmallVector<std::pair<Value, Value>> segments; // query ids, key ids
  bool otherDynamic = false;

  bool runTimeClasses() const {
    return !blockMasks.empty() || !segments.empty();
  }
};

/// Builds the GPU kernel of one op at the rewriter's insertion point: one
/// method per phase, sharing the sizes, the buffers and the block's indices.
class GpuTileBuilder {
public:
  GpuTileBuilder(RewriterBase &rw, AttentionOp op, const GpuTileConfig &cfg,
                 const HeadDims &dims);

  /// The kernel; returns the op's results.
  SmallVector<Value> build();

private:
  /// The launch body: the block's indices and query, the loop over key
  /// tiles, the row's finish.
  void buildBlock(gpu::LaunchOp launch);
  /// The block's and thread's indices, and this thread's part of the scaled
  /// query row.
  void setUpThread(gpu::LaunchOp launch);
  /// A row slice of a staged tile.
  Value sliceLoad(VectorType type, Value tileBuf, Value t, Value off);
  /// Stages rows [j0, j0 + count) of `src` ([B, Hkv, S, n]) in `dst`.
  void stage(Value src, Value dst, int64_t n, Value j0, Value count);
  /// The least and greatest segment id in `ids` at positions [lo, hiPos].
  std::pair<Value, Value> segmentIdRange(Value ids, Value lo, Value hiPos);
  /// The class of keys [jLo, jHi] from the static patterns, the block masks'
  /// blocks overlapping them and the segment id ranges (the same for every
  /// thread of the block).
  TileClass classifyAtRunTime(Value jLo, Value jHi);
  /// Adds to (anyEmpty, allFull) what the segments say of keys [jLo, jHi].
  void classifySegments(Value jLo, Value jHi, Value &anyEmpty, Value &allFull);
  /// Adds to (anyEmpty, allFull) what the block masks say of [jLo, jHi].
  void classifyBlockMasks(Value jLo, Value jHi, Value &anyEmpty,
                          Value &allFull);
  /// The state (m, l, acc) after the key tile from `j0`.
  SmallVector<Value> visitTile(Value j0, ValueRange state);
  /// The tile's scores (masked: -inf) or weights into the private buffer;
  /// returns their max.
  Value scoreTile(Value j0, Value count, const TileClass &cls);
  /// The score of key `j` (staged at `t`), masked unless the tile is full.
  Value scoreOf(Value j, Value t, const TileClass &cls);
  /// `s`, or -inf where the mask hides key `j` of a tile that is not full.
  Value maskScore(Value s, Value j, const TileClass &cls);
  /// The state after adding the tile's `count` weighted value rows.
  SmallVector<Value> accumulateTile(Value count, Value tileMax,
                                    ValueRange state);
  /// Writes the thread's part of its row (and the lse) from `state`.
  void finishRow(ValueRange state);

  RewriterBase &rw;
  AttentionOp op;
  Location loc;
  KernelBuilder k;
  OnlineSoftmax softmaxOps;
  GpuTileConfig cfg;
  int64_t hq, group, d, dv;
  AggregationKind kind;
  bool softmax;
  VectorType vecD, vecV;

  AttentionIO io;
  Value zero, one;
  /// Skv - Sq: a query's position among the keys, minus its index.
  Value offset;
  MaskAnalysis analysis;
  MaskParts mask;
  MaskAnalysis staticAnalysis;

  // The block and this thread.
  Value kTile, vTile, scores, tid, bi, hi, part, dOff, dvOff, i, rowValid, hk;
  QueryTile tile;
  Value lo, keyEnd, iSafe, q, ninf, zeroF;
  /// The query tile's segment id range, per segments pattern.
  SmallVector<std::pair<Value, Value>> queryIds;
};

} // namespace

static MaskParts splitMask(AttentionOp op) {
  MaskParts parts;
  ValueRange operands = op.getMaskOperands();
  for (Attribute p : op.getPatterns()) {
    unsigned count = cast<MaskPatternAttrInterface>(p).getNumMaskOperands();
    if (auto bm = dyn_cast<BlockMaskAttr>(p))
      parts.blockMasks.push_back({bm, operands.front()});
    else if (isa<SegmentsAttr>(p))
      parts.segments.push_back({operands[0], operands[1]});
    else if (count)
      parts.otherDynamic = true;
    else
      parts.staticPatterns.push_back(p);
    operands = operands.drop_front(count);
  }
  return parts;
}

static GpuTileConfig configure(const GpuTileOptions &options,
                               const HeadDims &dims) {
  GpuTileConfig cfg;
  // A power of two up to 32 dividing D and Dv; by default 2 from D = 128,
  // where one thread would hold 2 x 128 floats.
  cfg.rowThreads = options.rowThreads > 0 ? options.rowThreads
                   : dims.d >= 128        ? 2
                                          : 1;
  if (cfg.rowThreads > 32 || !llvm::isPowerOf2_64(cfg.rowThreads) ||
      dims.d % cfg.rowThreads || dims.dv % cfg.rowThreads)
    cfg.rowThreads = 1;
  // At most 1024 threads per block.
  cfg.blockQ = std::min<int64_t>(options.blockQ > 0 ? options.blockQ : 64,
                                 1024 / cfg.rowThreads);
  cfg.threads = cfg.blockQ * cfg.rowThreads;
  cfg.dPart = dims.d / cfg.rowThreads;
  cfg.dvPart = dims.dv / cfg.rowThreads;
  // K and V tiles in f32 within 40 KiB (the static shared-memory limit is
  // 48 KiB): 64 keys by default, halved (also a given block-kv) until they
  // fit.
  cfg.blockKV = options.blockKV > 0 ? options.blockKV : 64;
  while (cfg.blockKV > 1 && cfg.blockKV * (dims.d + dims.dv) * 4 > 40 * 1024)
    cfg.blockKV /= 2;
  return cfg;
}

GpuTileBuilder::GpuTileBuilder(RewriterBase &rw, AttentionOp op,
                               const GpuTileConfig &cfg, const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), softmaxOps(k), cfg(cfg),
      hq(dims.hq), group(dims.hq / dims.hkv), d(dims.d), dv(dims.dv),
      kind(op.getKind()), softmax(kind == AggregationKind::softmax),
      vecD(VectorType::get({cfg.dPart}, rw.getF32Type())),
      vecV(VectorType::get({cfg.dvPart}, rw.getF32Type())), io(k, op),
      zero(k.idx(0)), one(k.idx(1)),
      analysis(op.getPatterns(), &op.getPredicate()), mask(splitMask(op)),
      staticAnalysis(rw.getArrayAttr(mask.staticPatterns), &op.getPredicate()) {
}

SmallVector<Value> GpuTileBuilder::build() {
  Type f32 = rw.getF32Type();
  Value numQTiles =
      arith::CeilDivUIOp::create(rw, loc, io.sq, k.idx(cfg.blockQ));
  offset = k.sub(io.skv, io.sq);
  auto launch = gpu::LaunchOp::create(
      rw, loc, numQTiles, k.idx(hq), io.batch, k.idx(cfg.threads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{},
      TypeRange{memrefIn({cfg.blockKV, d}, f32, gpu::AddressSpace::Workgroup),
                memrefIn({cfg.blockKV, dv}, f32, gpu::AddressSpace::Workgroup)},
      TypeRange{memrefIn({cfg.blockKV}, f32, gpu::AddressSpace::Private)});
  {
    OpBuilder::InsertionGuard bodyGuard(rw);
    rw.setInsertionPointToStart(&launch.getBody().front());
    buildBlock(launch);
  }
  return io.results(k);
}

void GpuTileBuilder::setUpThread(gpu::LaunchOp launch) {
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  kTile = launch.getWorkgroupAttributions()[0];
  vTile = launch.getWorkgroupAttributions()[1];
  scores = launch.getPrivateAttributions()[0];
  tid = launch.getThreadIds().x;
  bi = blockIds.z;
  hi = blockIds.y;
  Value rowThreadsV = k.idx(cfg.rowThreads);
  part = arith::RemUIOp::create(rw, loc, tid, rowThreadsV);
  dOff = k.mul(part, k.idx(cfg.dPart));
  dvOff = k.mul(part, k.idx(cfg.dvPart));
  Value i0 = k.mul(blockIds.x, k.idx(cfg.blockQ));
  i = k.add(i0, arith::DivUIOp::create(rw, loc, tid, rowThreadsV));
  rowValid =
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult, i, io.sq);
  hk = arith::DivUIOp::create(rw, loc, hi, k.idx(group));
  Value iLast = k.sub(k.minI(k.add(i0, k.idx(cfg.blockQ)), io.sq), one);
  tile = {bi, hi, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
  std::tie(lo, keyEnd) = analysis.keyRange(rw, loc, tile, io.skv);

  // This thread's part of the scaled query row. Rows past Sq compute with
  // row 0 (every thread takes part in the shuffles and barriers) and write
  // nothing.
  iSafe = k.select(rowValid, i, zero);
  Type qElt = cast<MemRefType>(io.q.getType()).getElementType();
  q = k.vload(VectorType::get({cfg.dPart}, qElt), io.q, {bi, hi, iSafe, dOff});
  q = k.fmul(k.toF32(q), k.splat(vecD, op.getEffectiveScale()));
  ninf = k.negInf();
  zeroF = k.f32(0.0);
}

void GpuTileBuilder::buildBlock(gpu::LaunchOp launch) {
  setUpThread(launch);
  // The query tile's segment id ranges, once per block.
  for (auto &seg : mask.segments)
    queryIds.push_back(segmentIdRange(seg.first, tile.iLo, tile.iHi));
  SmallVector<Value> inits = {ninf, zeroF, k.splat(vecV, 0.0)};
  SmallVector<Value> state =
      k.reduceMany(lo, keyEnd, cfg.blockKV, inits,
                   [&](Value j0, ValueRange st) { return visitTile(j0, st); });
  finishRow(state);
  gpu::TerminatorOp::create(rw, loc);
}

Value GpuTileBuilder::sliceLoad(VectorType type, Value tileBuf, Value t,
                                Value off) {
  // Slices of a multiple of 4 floats are 16-byte aligned (the shared buffers
  // are, attn-gpu-align-shared): one 128-bit shared load per 4 floats
  // instead of 4 scalar ones.
  llvm::MaybeAlign align;
  if (type.getNumElements() % 4 == 0)
    align = llvm::Align(16);
  return vector::LoadOp::create(rw, loc, type, tileBuf, ValueRange{t, off},
                                /*nontemporal=*/false, align);
}

void GpuTileBuilder::stage(Value src, Value dst, int64_t n, Value j0,
                           Value count) {
  Value total = k.mul(count, k.idx(n));
  k.loop(tid, total, cfg.threads, [&](Value e) {
    Value r = arith::DivUIOp::create(rw, loc, e, k.idx(n));
    Value c = arith::RemUIOp::create(rw, loc, e, k.idx(n));
    k.store(k.toF32(k.load(src, {bi, hk, k.add(j0, r), c})), dst, {r, c});
  });
}

std::pair<Value, Value> GpuTileBuilder::segmentIdRange(Value ids, Value lo,
                                                       Value hiPos) {
  Value first = segmentIdAt(rw, loc, ids, bi, hi, lo);
  SmallVector<Value> mm = k.reduceMany(
      k.add(lo, one), k.add(hiPos, one), 1, ValueRange{first, first},
      [&](Value p, ValueRange a) -> SmallVector<Value> {
        Value id = segmentIdAt(rw, loc, ids, bi, hi, p);
        return {arith::MinSIOp::create(rw, loc, a[0], id),
                arith::MaxSIOp::create(rw, loc, a[1], id)};
      });
  return {mm[0], mm[1]};
}

void GpuTileBuilder::classifySegments(Value jLo, Value jHi, Value &anyEmpty,
                                      Value &allFull) {
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(rw, loc, p, x, y);
  };
  for (auto [n, seg] : llvm::enumerate(mask.segments)) {
    auto [kMin, kMax] = segmentIdRange(seg.second, jLo, jHi);
    Value qMin = queryIds[n].first, qMax = queryIds[n].second;
    // Disjoint id ranges: no pair meets. One id on both sides: every pair
    // does.
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
}

void GpuTileBuilder::classifyBlockMasks(Value jLo, Value jHi, Value &anyEmpty,
                                        Value &allFull) {
  auto div = [&](Value x, Value y) -> Value {
    return arith::DivUIOp::create(rw, loc, x, y);
  };
  auto boolConst = [&](bool v) -> Value {
    return arith::ConstantOp::create(rw, loc, rw.getBoolAttr(v));
  };
  for (const auto &blockMask : mask.blockMasks) {
    BlockMaskAttr bm = blockMask.first;
    Value blocks = blockMask.second;
    Value bq = k.idx(bm.getBlockQ()), bkv = k.idx(bm.getBlockKv());
    Value bIdx = broadcastIndex(rw, loc, blocks, 0, bi);
    Value hIdx = broadcastIndex(rw, loc, blocks, 1, hi);
    SmallVector<Value> anyAll = k.reduceMany(
        div(tile.iLo, bq), k.add(div(tile.iHi, bq), one), 1,
        ValueRange{boolConst(false), boolConst(true)},
        [&](Value qb, ValueRange acc) -> SmallVector<Value> {
          return k.reduceMany(
              div(jLo, bkv), k.add(div(jHi, bkv), one), 1, acc,
              [&](Value kb, ValueRange a) -> SmallVector<Value> {
                Value kept = tensor::ExtractOp::create(
                    rw, loc, blocks, ValueRange{bIdx, hIdx, qb, kb});
                return {arith::OrIOp::create(rw, loc, a[0], kept),
                        arith::AndIOp::create(rw, loc, a[1], kept)};
              });
        });
    anyEmpty = arith::OrIOp::create(
        rw, loc, anyEmpty,
        arith::XOrIOp::create(rw, loc, anyAll[0], boolConst(true)));
    allFull = arith::AndIOp::create(rw, loc, allFull, anyAll[1]);
  }
}

TileClass GpuTileBuilder::classifyAtRunTime(Value jLo, Value jHi) {
  TileClass cls = staticAnalysis.classify(rw, loc, tile, jLo, jHi);
  Value anyEmpty = arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false));
  Value allFull = arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true));
  classifySegments(jLo, jHi, anyEmpty, allFull);
  classifyBlockMasks(jLo, jHi, anyEmpty, allFull);
  cls.empty = arith::OrIOp::create(rw, loc, cls.empty, anyEmpty);
  cls.full =
      mask.otherDynamic
          ? arith::ConstantOp::create(rw, loc, rw.getBoolAttr(false))
                .getResult()
          : arith::AndIOp::create(rw, loc, cls.full, allFull).getResult();
  return cls;
}

SmallVector<Value> GpuTileBuilder::visitTile(Value j0, ValueRange st) {
  Value jEnd = k.minI(k.add(j0, k.idx(cfg.blockKV)), keyEnd);
  Value count = k.sub(jEnd, j0);
  TileClass cls = mask.runTimeClasses()
                      ? classifyAtRunTime(j0, k.sub(jEnd, one))
                      : analysis.classify(rw, loc, tile, j0, k.sub(jEnd, one));
  // Empty tiles are skipped by the whole block (the test is uniform, so the
  // barriers stay convergent).
  auto ifOp = scf::IfOp::create(rw, loc, TypeRange(st), cls.empty,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(rw);
  rw.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(rw, loc, st);
  rw.setInsertionPointToStart(ifOp.elseBlock());
  stage(io.key, kTile, d, j0, count);
  stage(io.v, vTile, dv, j0, count);
  gpu::BarrierOp::create(rw, loc);
  Value tileMax = scoreTile(j0, count, cls);
  SmallVector<Value> next = accumulateTile(count, tileMax, st);
  // The next tile overwrites the staged rows.
  gpu::BarrierOp::create(rw, loc);
  scf::YieldOp::create(rw, loc, next);
  return SmallVector<Value>(ifOp.getResults());
}

Value GpuTileBuilder::scoreTile(Value j0, Value count, const TileClass &cls) {
  // Every thread computes (the shuffles need the whole warp); rows past Sq
  // use row 0's indices and write nothing.
  return k.reduce(zero, count, 1, ninf, [&](Value t, Value mx) {
    Value s = scoreOf(k.add(j0, t), t, cls);
    if (!softmax)
      s = softmaxOps.pointwiseWeight(kind, s);
    k.store(s, scores, t);
    return k.fmax(mx, s);
  });
}

Value GpuTileBuilder::scoreOf(Value j, Value t, const TileClass &cls) {
  Value kRow = sliceLoad(vecD, kTile, t, dOff);
  // Reassociable: a tree of adds, not a chain of D dependent ones (the order
  // a strict reduction imposes).
  Value s = vector::ReductionOp::create(
      rw, loc, vector::CombiningKind::ADD,
      arith::MulFOp::create(rw, loc, q, kRow, arith::FastMathFlags::contract),
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  // The row's threads are neighbours in the warp: a butterfly of xor
  // shuffles gives each of them the whole sum.
  for (int64_t off = 1; off < cfg.rowThreads; off *= 2)
    s = k.fadd(s, gpu::ShuffleOp::create(rw, loc, s, static_cast<int32_t>(off),
                                         /*width=*/32, gpu::ShuffleMode::XOR)
                      .getShuffleResult());
  if (!op.getScoreMod().empty())
    s = inlineRegion(rw, op.getScoreMod(), {s, bi, hi, iSafe, j});
  if (!analysis.isTrivial() || mask.runTimeClasses())
    s = maskScore(s, j, cls);
  return s;
}

Value GpuTileBuilder::maskScore(Value s, Value j, const TileClass &cls) {
  auto keepIf =
      scf::IfOp::create(rw, loc, rw.getI1Type(), cls.full, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard g(rw);
    rw.setInsertionPointToStart(keepIf.thenBlock());
    scf::YieldOp::create(
        rw, loc,
        arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)).getResult());
    rw.setInsertionPointToStart(keepIf.elseBlock());
    MaskPredicateBuilder pb(rw, loc, io.sq, io.skv);
    pb.setIndices(bi, hi, iSafe, j);
    scf::YieldOp::create(
        rw, loc,
        pb.buildAll(op.getPatterns(), op.getMaskOperands(), op.getPredicate()));
  }
  return k.select(keepIf.getResult(0), s, ninf);
}

SmallVector<Value> GpuTileBuilder::accumulateTile(Value count, Value tileMax,
                                                  ValueRange st) {
  Value m = st[0], l = st[1], acc = st[2];
  if (!softmax) {
    Value sum = k.reduce(zero, count, 1, acc, [&](Value t, Value a) {
      Value vRow = sliceLoad(vecV, vTile, t, dvOff);
      return k.fma(k.bcast(vecV, k.load(scores, t)), vRow, a);
    });
    return {m, l, sum};
  }
  OnlineSoftmax::Step step = softmaxOps.rescale(m, tileMax);
  SmallVector<Value> sums = k.reduceMany(
      zero, count, 1,
      ValueRange{k.fmul(l, step.alpha), k.fmul(acc, k.bcast(vecV, step.alpha))},
      [&](Value t, ValueRange a) -> SmallVector<Value> {
        Value p = softmaxOps.weight(k.load(scores, t), step.safeMax);
        Value vRow = sliceLoad(vecV, vTile, t, dvOff);
        return {k.fadd(a[0], p), k.fma(k.bcast(vecV, p), vRow, a[1])};
      });
  return {step.max, sums[0], sums[1]};
}

void GpuTileBuilder::finishRow(ValueRange state) {
  k.ifThen(rowValid, [&] {
    Value factor = k.f32(1.0), lse;
    if (softmax)
      std::tie(factor, lse) = softmaxOps.finish(
          state[0], state[1], io.sinks ? k.load(io.sinks, hi) : Value());
    Type outElt = io.outTy.getElementType();
    Value o = k.fromF32(k.fmul(state[2], k.bcast(vecV, factor)), outElt);
    k.vstore(o, io.out, {bi, hi, i, dvOff});
    if (io.lse)
      k.ifThen(
          arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, part, zero),
          [&] {
            k.store(lse, io.lse, {bi, hi, i});
          });
  });
}

FailureOr<SmallVector<Value>>
mlir::attn::gpuTileAttention(RewriterBase &rw, AttentionOp op,
                             const GpuTileOptions &options) {
  if (hasKeyListPattern(op))
    return rw.notifyMatchFailure(op, "csr/indices: gather form");
  if (!op.getPositions().empty())
    return rw.notifyMatchFailure(op, "positions: CPU forms only");
  // No online form: UnfuseEntmaxAttention hands it to the naive kernels.
  if (op.getKind() == AggregationKind::entmax)
    return rw.notifyMatchFailure(op, "entmax: naive form");
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return GpuTileBuilder(rw, op, configure(options, *dims), *dims).build();
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

/// The GPU forms have no entmax kernel: the attention goes back to its graph,
/// which attn-decompose lowers to naive kernels (attn-sparsify, which runs
/// first, would otherwise give it the CPU tiled form).
struct UnfuseEntmaxAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getKind() != AggregationKind::entmax)
      return failure();
    return unfuseAttention(rewriter, op);
  }
};

struct AttnGpuTilePass : attn::impl::AttnGpuTileBase<AttnGpuTilePass> {
  using AttnGpuTileBase::AttnGpuTileBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    GpuTileOptions options{blockQ, blockKV, rowThreads};
    populateGpuTilePatterns(patterns, options);
    populateGpuTileGradPatterns(patterns, options);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::attn::populateGpuTilePatterns(RewritePatternSet &patterns,
                                         const GpuTileOptions &options) {
  patterns.add<GpuTileAttention>(patterns.getContext(), options);
  patterns.add<UnfuseEntmaxAttention>(patterns.getContext());
}
