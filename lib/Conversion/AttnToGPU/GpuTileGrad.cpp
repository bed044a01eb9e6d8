//===- GpuTileGrad.cpp - GPU kernels for attn.attention_grad --------------===//
//
// The GPU form of the fused backward (FlashAttention-2 without atomics), as
// four gpu.launch ops run in order:
//
//   delta  (softmax) blocks (query tile, query head, batch), one thread per
//          row: Δ_i = rowsum(dO_i ∘ O_i) - dlse_i, 0 where lse_i = -inf;
//   sinks  one block per head, one thread: d(sink_h) = -Σ_{b,i}
//          e^{sink_h - lse_i} Δ_i, summed in order;
//   keys   blocks (key block, K/V head, batch), rowThreads threads per key:
//          each thread holds its share of k_j, v_j, dK_j and dV_j; for every
//          query head of the GQA group and every query tile the mask
//          analysis does not prove empty (in a fixed order), the tile's
//          scaled Q rows, dO rows, lse and Δ are staged in shared memory and
//          each thread walks the rows: dV_j += p dO_i, dK_j += ds q_i;
//   query  blocks (query tile, query head, batch), rowThreads threads per
//          row, over the visible key tiles staged in shared memory (K and V,
//          as the forward): dQ_i += ds k_j.
//
// Per (i, j): s = scale q_i·k_j (+ score_mod), masked: -inf; p = e^{s - lse_i}
// (sigmoid: σ(s), none: s), dp = dO_i·v_j, ds = p (dp - Δ_i) (sigmoid:
// dp p (1 - p), none: dp), chained through the score_mod's adjoint. A masked
// score and a row with lse = -inf give p = ds = 0 exactly. Every gradient
// element is written by one thread and every sum runs in a fixed order, so
// the results are deterministic; nothing of size Sq x Skv is built. f16 and
// bf16 inputs are widened to f32, the results rounded once.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToGPU/GpuTileGrad.h"
#include "attn/Kernel/GradBuffers.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Kernel/MaskPredicate.h"
#include "attn/Transforms/MaskAnalysis.h"
#include "attn/Transforms/RegionAdjoint.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Block and tile sizes of the backward kernels.
struct GpuGradConfig {
  /// Threads per query row (query kernel) and per key (key kernel), each
  /// holding dPart of D and dvPart of Dv; dot products are summed by xor
  /// shuffles.
  int64_t rowThreads, dPart, dvPart;
  /// Query kernel: rows per block; keys per staged K/V tile.
  int64_t blockQ, blockKV;
  /// Key kernel: keys per block; query rows per staged Q/dO tile.
  int64_t blockKeys, stageQ;
};

/// The forward's defaults (64 rows, 64 keys, tiles within 40 KiB of shared
/// memory), with more threads per row: the key kernel holds four vectors
/// (k, v, dK, dV) per thread.
GpuGradConfig configureGrad(const GpuTileOptions &options,
                            const HeadDims &dims) {
  GpuGradConfig c;
  int64_t rowThreads = dims.d >= 128 ? 4 : dims.d >= 64 ? 2 : 1;
  c.rowThreads = options.rowThreads > 0 ? options.rowThreads : rowThreads;
  if (c.rowThreads > 32 || !llvm::isPowerOf2_64(c.rowThreads) ||
      dims.d % c.rowThreads || dims.dv % c.rowThreads)
    c.rowThreads = 1;
  c.dPart = dims.d / c.rowThreads;
  c.dvPart = dims.dv / c.rowThreads;
  const int64_t maxRows = 1024 / c.rowThreads, budget = 40 * 1024;
  c.blockQ =
      std::min<int64_t>(options.blockQ > 0 ? options.blockQ : 64, maxRows);
  c.blockKeys =
      std::min<int64_t>(options.blockKV > 0 ? options.blockKV : 64, maxRows);
  c.blockKV = options.blockKV > 0 ? options.blockKV : 64;
  while (c.blockKV > 1 && c.blockKV * (dims.d + dims.dv) * 4 > budget)
    c.blockKV /= 2;
  // Q and dO rows, lse and Δ.
  c.stageQ = options.blockQ > 0 ? options.blockQ : 64;
  while (c.stageQ > 1 && c.stageQ * (dims.d + dims.dv + 2) * 4 > budget)
    c.stageQ /= 2;
  return c;
}

MemRefType memrefIn(ArrayRef<int64_t> shape, Type elt,
                    gpu::AddressSpace space) {
  return MemRefType::get(shape, elt, MemRefLayoutAttrInterface(),
                         gpu::AddressSpaceAttr::get(elt.getContext(), space));
}

/// The probability and the score gradient of one (query, key) pair.
struct PairTerms {
  Value p, ds;
};

/// Builds the kernels of one op at the rewriter's insertion point.
class GpuGradBuilder : AttentionGradBuffers {
public:
  GpuGradBuilder(RewriterBase &rw, AttentionGradOp op, const GpuGradConfig &cfg,
                 const HeadDims &dims);

  /// The kernels; returns the op's results.
  SmallVector<Value> build();

private:
  void setUp();
  /// A gpu.launch over `grid` with `threads` threads, its body built by
  /// `body` (the terminator is added).
  void launch(ArrayRef<Value> grid, int64_t threads, TypeRange workgroup,
              function_ref<void(gpu::LaunchOp)> body);
  /// This thread's row (or key) slot and its offsets into D and Dv.
  Value setUpThread(gpu::LaunchOp l);

  void buildDeltaKernel();
  void buildSinkKernel();
  // The key kernel.
  void buildKeyBlock(gpu::LaunchOp l);
  SmallVector<Value> visitQueryTile(Value hq, Value qt, ValueRange acc);
  // The query kernel.
  void buildQueryBlock(gpu::LaunchOp l);
  Value visitKeyTile(Value j0, Value acc);

  /// Rows [r0, r0 + count) of `src` at `prefix` (n columns) into `dst`, as
  /// f32 times `scale` if given, all threads cooperating.
  void stage(Value src, ValueRange prefix, Value dst, int64_t n, Value r0,
             Value count, Value scale = Value());
  /// A row slice of a staged tile.
  Value sliceLoad(VectorType type, Value tileBuf, Value r, Value off);
  /// Σ x ∘ y over the row's threads (this thread holds one share).
  Value dot(Value x, Value y);
  /// p and ds of query i and key j from the raw scaled score and dO_i·v_j.
  PairTerms pairTerms(Value raw, Value dp, Value l, Value delta, Value hq,
                      Value i, Value j, Value full);
  /// `s`, or -inf where the mask hides (i, j) unless `full`.
  Value maskScore(Value s, Value hq, Value i, Value j, Value full);
  /// ds · ∂score_mod/∂x at the raw score x (0 stays 0).
  Value chainScoreMod(Value raw, Value ds, Value hq, Value i, Value j);

  RewriterBase &rw;
  AttentionGradOp op;
  Location loc;
  KernelBuilder k;
  GpuGradConfig cfg;
  HeadDims dims;
  int64_t group;
  bool softmax;
  MaskAnalysis analysis;
  VectorType vecD, vecV;

  // Δ per query row (operands, sizes and results: AttentionGradBuffers).
  Value delta;

  // The block (its thread count) and this thread.
  int64_t threads = 0;
  Value tid, bi, part, dOff, dvOff;
  // Key kernel: the shared Q, dO, lse and Δ tiles, the block's keys, this
  // thread's (clamped) key and its k and v shares.
  Value qS, doS, lseS, deltaS, hk, j0, jLast, jSafe, kRow, vRow;
  // Query kernel: the shared K and V tiles, the query tile, this thread's
  // (clamped) row, its q (scaled) and dO shares, lse and Δ.
  Value kS, vS, hq, iSafe, keyEnd, qRow, doRow, lseI, deltaI;
  QueryTile tile;
};

} // namespace

GpuGradBuilder::GpuGradBuilder(RewriterBase &rw, AttentionGradOp op,
                               const GpuGradConfig &cfg, const HeadDims &dims)
    : rw(rw), op(op), loc(op.getLoc()), k(rw, loc), cfg(cfg), dims(dims),
      group(dims.hq / dims.hkv),
      softmax(op.getKind() == AggregationKind::softmax),
      analysis(op.getPatterns(), &op.getPredicate()),
      vecD(VectorType::get({cfg.dPart}, rw.getF32Type())),
      vecV(VectorType::get({cfg.dvPart}, rw.getF32Type())) {}

void GpuGradBuilder::setUp() {
  loadOperands(k, op, /*readOutput=*/true, /*readLse=*/true);
  allocateGradients(k, op, dims);
  if (softmax)
    delta = k.allocLike(cast<RankedTensorType>(op.getLse().getType()),
                        {batch, k.idx(dims.hq), sq});
}

SmallVector<Value> GpuGradBuilder::build() {
  setUp();
  if (softmax)
    buildDeltaKernel();
  if (sinks)
    buildSinkKernel();
  Type f32 = rw.getF32Type();
  auto shared = [&](ArrayRef<int64_t> shape) -> Type {
    return memrefIn(shape, f32, gpu::AddressSpace::Workgroup);
  };
  SmallVector<Type> keyTiles = {shared({cfg.stageQ, dims.d}),
                                shared({cfg.stageQ, dims.dv})};
  if (softmax)
    keyTiles.append({shared({cfg.stageQ}), shared({cfg.stageQ})});
  Value numKeyBlocks =
      arith::CeilDivUIOp::create(rw, loc, skv, k.idx(cfg.blockKeys));
  launch({numKeyBlocks, k.idx(dims.hkv), batch}, cfg.blockKeys * cfg.rowThreads,
         keyTiles, [&](gpu::LaunchOp l) { buildKeyBlock(l); });
  Value numQueryTiles =
      arith::CeilDivUIOp::create(rw, loc, sq, k.idx(cfg.blockQ));
  launch({numQueryTiles, k.idx(dims.hq), batch}, cfg.blockQ * cfg.rowThreads,
         {shared({cfg.blockKV, dims.d}), shared({cfg.blockKV, dims.dv})},
         [&](gpu::LaunchOp l) { buildQueryBlock(l); });
  auto tensorOf = [&](Value operand, Value buffer) {
    return k.toTensor(cast<RankedTensorType>(operand.getType()), buffer);
  };
  SmallVector<Value> results = {tensorOf(op.getQuery(), dq),
                                tensorOf(op.getKey(), dk),
                                tensorOf(op.getValue(), dv)};
  if (sinks)
    results.push_back(tensorOf(op.getSinks(), dSinks));
  return results;
}

void GpuGradBuilder::launch(ArrayRef<Value> grid, int64_t threads,
                            TypeRange workgroup,
                            function_ref<void(gpu::LaunchOp)> body) {
  Value one = k.idx(1);
  auto l = gpu::LaunchOp::create(
      rw, loc, grid[0], grid[1], grid[2], k.idx(threads), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, workgroup, /*privateAttributions=*/{});
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPointToStart(&l.getBody().front());
  body(l);
  gpu::TerminatorOp::create(rw, loc);
}

Value GpuGradBuilder::setUpThread(gpu::LaunchOp l) {
  threads = getConstantIntValue(l.getBlockSizeX()).value_or(1);
  tid = l.getThreadIds().x;
  bi = l.getBlockIds().z;
  Value rowThreads = k.idx(cfg.rowThreads);
  part = arith::RemUIOp::create(rw, loc, tid, rowThreads);
  dOff = k.mul(part, k.idx(cfg.dPart));
  dvOff = k.mul(part, k.idx(cfg.dvPart));
  return arith::DivUIOp::create(rw, loc, tid, rowThreads);
}

//===----------------------------------------------------------------------===//
// Δ and the sinks
//===----------------------------------------------------------------------===//

void GpuGradBuilder::buildDeltaKernel() {
  Value numTiles = arith::CeilDivUIOp::create(rw, loc, sq, k.idx(cfg.blockQ));
  launch(
      {numTiles, k.idx(dims.hq), batch}, cfg.blockQ, {}, [&](gpu::LaunchOp l) {
        Value t = l.getThreadIds().x, b = l.getBlockIds().z,
              h = l.getBlockIds().y;
        Value i = k.add(k.mul(l.getBlockIds().x, k.idx(cfg.blockQ)), t);
        Value valid =
            arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult, i, sq);
        k.ifThen(valid, [&] {
          Value d = k.reduce(
              k.idx(0), k.idx(dims.dv), 1, k.f32(0.0), [&](Value e, Value acc) {
                return k.fma(k.toF32(k.load(dOut, {b, h, i, e})),
                             k.toF32(k.load(out, {b, h, i, e})), acc);
              });
          if (dLse)
            d = k.fsub(d, k.load(dLse, {b, h, i}));
          // A fully masked row contributes nothing, its dlse included.
          Value rowLse = k.load(lse, {b, h, i});
          k.store(k.select(k.feq(rowLse, k.negInf()), k.f32(0.0), d), delta,
                  {b, h, i});
        });
      });
}

void GpuGradBuilder::buildSinkKernel() {
  launch({k.idx(dims.hq), k.idx(1), k.idx(1)}, 1, {}, [&](gpu::LaunchOp l) {
    Value h = l.getBlockIds().x, zero = k.f32(0.0);
    Value sink = k.load(sinks, h);
    Value total = k.reduce(k.idx(0), batch, 1, zero, [&](Value b, Value acc) {
      return k.reduce(k.idx(0), sq, 1, acc, [&](Value i, Value a) {
        Value rowLse = k.load(lse, {b, h, i});
        Value term =
            k.fmul(k.exp(k.fsub(sink, rowLse)), k.load(delta, {b, h, i}));
        return k.fadd(a, k.select(k.feq(rowLse, k.negInf()), zero, term));
      });
    });
    k.store(arith::NegFOp::create(rw, loc, total), dSinks, h);
  });
}

//===----------------------------------------------------------------------===//
// The key kernel: dK and dV
//===----------------------------------------------------------------------===//

void GpuGradBuilder::buildKeyBlock(gpu::LaunchOp l) {
  Value slot = setUpThread(l);
  hk = l.getBlockIds().y;
  qS = l.getWorkgroupAttributions()[0];
  doS = l.getWorkgroupAttributions()[1];
  if (softmax) {
    lseS = l.getWorkgroupAttributions()[2];
    deltaS = l.getWorkgroupAttributions()[3];
  }
  j0 = k.mul(l.getBlockIds().x, k.idx(cfg.blockKeys));
  jLast = k.sub(k.minI(k.add(j0, k.idx(cfg.blockKeys)), skv), k.idx(1));
  Value j = k.add(j0, slot);
  Value keyValid =
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult, j, skv);
  // Keys past Skv compute with key 0 (every thread takes part in the
  // shuffles and barriers) and write nothing.
  jSafe = k.select(keyValid, j, k.idx(0));
  auto eltVec = [](Value buffer, VectorType like) {
    return VectorType::get(like.getShape(),
                           cast<MemRefType>(buffer.getType()).getElementType());
  };
  kRow = k.toF32(k.vload(eltVec(key, vecD), key, {bi, hk, jSafe, dOff}));
  vRow = k.toF32(k.vload(eltVec(v, vecV), v, {bi, hk, jSafe, dvOff}));
  Value numTiles = arith::CeilDivUIOp::create(rw, loc, sq, k.idx(cfg.stageQ));
  // Every query head of the group, every query tile, in order.
  SmallVector<Value> acc = {k.splat(vecD, 0.0), k.splat(vecV, 0.0)};
  acc = k.reduceMany(k.idx(0), k.idx(group), 1, acc,
                     [&](Value g, ValueRange a) -> SmallVector<Value> {
                       Value h = k.add(k.mul(hk, k.idx(group)), g);
                       return k.reduceMany(k.idx(0), numTiles, 1, a,
                                           [&](Value qt, ValueRange st) {
                                             return visitQueryTile(h, qt, st);
                                           });
                     });
  k.ifThen(keyValid, [&] {
    auto eltOf = [](Value buffer) {
      return cast<MemRefType>(buffer.getType()).getElementType();
    };
    k.vstore(k.fromF32(acc[0], eltOf(dk)), dk, {bi, hk, j, dOff});
    k.vstore(k.fromF32(acc[1], eltOf(dv)), dv, {bi, hk, j, dvOff});
  });
}

SmallVector<Value> GpuGradBuilder::visitQueryTile(Value h, Value qt,
                                                  ValueRange acc) {
  Value i0 = k.mul(qt, k.idx(cfg.stageQ));
  Value rows = k.sub(k.minI(k.add(i0, k.idx(cfg.stageQ)), sq), i0);
  Value iLast = k.sub(k.add(i0, rows), k.idx(1));
  QueryTile rowsTile{bi, h, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
  TileClass cls = analysis.classify(rw, loc, rowsTile, j0, jLast);
  // Empty tiles are skipped by the whole block (the test is uniform, so the
  // barriers stay convergent).
  auto ifOp = scf::IfOp::create(rw, loc, TypeRange(acc), cls.empty,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(rw);
  rw.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(rw, loc, acc);
  rw.setInsertionPointToStart(ifOp.elseBlock());
  stage(q, {bi, h}, qS, dims.d, i0, rows, k.f32(op.getEffectiveScale()));
  stage(dOut, {bi, h}, doS, dims.dv, i0, rows);
  if (softmax)
    k.loop(tid, rows, threads, [&](Value r) {
      k.store(k.load(lse, {bi, h, k.add(i0, r)}), lseS, r);
      k.store(k.load(delta, {bi, h, k.add(i0, r)}), deltaS, r);
    });
  gpu::BarrierOp::create(rw, loc);
  SmallVector<Value> next = k.reduceMany(
      k.idx(0), rows, 1, acc, [&](Value r, ValueRange a) -> SmallVector<Value> {
        Value qr = sliceLoad(vecD, qS, r, dOff);
        Value dor = sliceLoad(vecV, doS, r, dvOff);
        Value l = softmax ? k.load(lseS, r) : Value();
        Value d = softmax ? k.load(deltaS, r) : Value();
        PairTerms t = pairTerms(dot(qr, kRow), dot(dor, vRow), l, d, h,
                                k.add(i0, r), jSafe, cls.full);
        // dK_j += ds q_i (q staged scaled: the scale of dK is in it).
        return {k.fma(k.bcast(vecD, t.ds), qr, a[0]),
                k.fma(k.bcast(vecV, t.p), dor, a[1])};
      });
  // The next tile overwrites the staged rows.
  gpu::BarrierOp::create(rw, loc);
  scf::YieldOp::create(rw, loc, next);
  return SmallVector<Value>(ifOp.getResults());
}

//===----------------------------------------------------------------------===//
// The query kernel: dQ
//===----------------------------------------------------------------------===//

void GpuGradBuilder::buildQueryBlock(gpu::LaunchOp l) {
  Value slot = setUpThread(l);
  hq = l.getBlockIds().y;
  hk = arith::DivUIOp::create(rw, loc, hq, k.idx(group));
  kS = l.getWorkgroupAttributions()[0];
  vS = l.getWorkgroupAttributions()[1];
  Value i0 = k.mul(l.getBlockIds().x, k.idx(cfg.blockQ));
  Value i = k.add(i0, slot);
  Value rowValid =
      arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ult, i, sq);
  Value iLast = k.sub(k.minI(k.add(i0, k.idx(cfg.blockQ)), sq), k.idx(1));
  tile = {bi, hq, i0, iLast, k.add(i0, offset), k.add(iLast, offset)};
  Value lo;
  std::tie(lo, keyEnd) = analysis.keyRange(rw, loc, tile, skv);
  // Rows past Sq compute with row 0 and write nothing.
  iSafe = k.select(rowValid, i, k.idx(0));
  auto eltVec = [](Value buffer, VectorType like) {
    return VectorType::get(like.getShape(),
                           cast<MemRefType>(buffer.getType()).getElementType());
  };
  qRow = k.toF32(k.vload(eltVec(q, vecD), q, {bi, hq, iSafe, dOff}));
  qRow = k.fmul(qRow, k.splat(vecD, op.getEffectiveScale()));
  doRow = k.toF32(k.vload(eltVec(dOut, vecV), dOut, {bi, hq, iSafe, dvOff}));
  if (softmax) {
    lseI = k.load(lse, {bi, hq, iSafe});
    deltaI = k.load(delta, {bi, hq, iSafe});
  }
  Value acc = k.reduce(lo, keyEnd, cfg.blockKV, k.splat(vecD, 0.0),
                       [&](Value t0, Value a) { return visitKeyTile(t0, a); });
  k.ifThen(rowValid, [&] {
    Value g = k.fmul(acc, k.splat(vecD, op.getEffectiveScale()));
    Type elt = cast<MemRefType>(dq.getType()).getElementType();
    k.vstore(k.fromF32(g, elt), dq, {bi, hq, i, dOff});
  });
}

Value GpuGradBuilder::visitKeyTile(Value t0, Value acc) {
  Value jEnd = k.minI(k.add(t0, k.idx(cfg.blockKV)), keyEnd);
  Value count = k.sub(jEnd, t0);
  TileClass cls = analysis.classify(rw, loc, tile, t0, k.sub(jEnd, k.idx(1)));
  auto ifOp = scf::IfOp::create(rw, loc, TypeRange{acc.getType()}, cls.empty,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(rw);
  rw.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(rw, loc, acc);
  rw.setInsertionPointToStart(ifOp.elseBlock());
  stage(key, {bi, hk}, kS, dims.d, t0, count);
  stage(v, {bi, hk}, vS, dims.dv, t0, count);
  gpu::BarrierOp::create(rw, loc);
  Value next = k.reduce(k.idx(0), count, 1, acc, [&](Value t, Value a) {
    Value kr = sliceLoad(vecD, kS, t, dOff);
    Value vr = sliceLoad(vecV, vS, t, dvOff);
    PairTerms terms = pairTerms(dot(qRow, kr), dot(doRow, vr), lseI, deltaI, hq,
                                iSafe, k.add(t0, t), cls.full);
    return k.fma(k.bcast(vecD, terms.ds), kr, a);
  });
  gpu::BarrierOp::create(rw, loc);
  scf::YieldOp::create(rw, loc, next);
  return ifOp.getResult(0);
}

//===----------------------------------------------------------------------===//
// Shared pieces
//===----------------------------------------------------------------------===//

void GpuGradBuilder::stage(Value src, ValueRange prefix, Value dst, int64_t n,
                           Value r0, Value count, Value scale) {
  // Consecutive threads load consecutive elements (coalesced).
  Value total = k.mul(count, k.idx(n));
  k.loop(tid, total, threads, [&](Value e) {
    Value r = arith::DivUIOp::create(rw, loc, e, k.idx(n));
    Value c = arith::RemUIOp::create(rw, loc, e, k.idx(n));
    SmallVector<Value> at(prefix);
    at.append({k.add(r0, r), c});
    Value x = k.toF32(k.load(src, at));
    k.store(scale ? k.fmul(x, scale) : x, dst, {r, c});
  });
}

Value GpuGradBuilder::sliceLoad(VectorType type, Value tileBuf, Value r,
                                Value off) {
  // Slices of a multiple of 4 floats are 16-byte aligned (the shared buffers
  // are, attn-gpu-align-shared).
  llvm::MaybeAlign align;
  if (type.getNumElements() % 4 == 0)
    align = llvm::Align(16);
  return vector::LoadOp::create(rw, loc, type, tileBuf, ValueRange{r, off},
                                /*nontemporal=*/false, align);
}

Value GpuGradBuilder::dot(Value x, Value y) {
  Value s = vector::ReductionOp::create(
      rw, loc, vector::CombiningKind::ADD,
      arith::MulFOp::create(rw, loc, x, y, arith::FastMathFlags::contract),
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  // The row's threads are neighbours in the warp: a butterfly of xor
  // shuffles gives each of them the whole sum.
  for (int64_t off = 1; off < cfg.rowThreads; off *= 2)
    s = k.fadd(s, gpu::ShuffleOp::create(rw, loc, s, static_cast<int32_t>(off),
                                         /*width=*/32, gpu::ShuffleMode::XOR)
                      .getShuffleResult());
  return s;
}

PairTerms GpuGradBuilder::pairTerms(Value raw, Value dp, Value l, Value d,
                                    Value h, Value i, Value j, Value full) {
  bool scoreMod = !op.getScoreMod().empty();
  Value s = raw;
  if (scoreMod)
    s = inlineRegion(rw, op.getScoreMod(), {raw, bi, h, i, j});
  if (!analysis.isTrivial())
    s = maskScore(s, h, i, j, full);
  Value zero = k.f32(0.0), one = k.f32(1.0);
  Value keep =
      arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::ONE, s, k.negInf());
  PairTerms t;
  switch (op.getKind()) {
  case AggregationKind::softmax:
    keep = arith::AndIOp::create(
        rw, loc, keep,
        arith::CmpFOp::create(rw, loc, arith::CmpFPredicate::ONE, l,
                              k.negInf()));
    t.p = k.select(keep, k.exp(k.fsub(s, l)), zero);
    t.ds = k.select(keep, k.fmul(t.p, k.fsub(dp, d)), zero);
    break;
  case AggregationKind::sigmoid:
    t.p = k.fdiv(one, k.fadd(one, k.exp(arith::NegFOp::create(rw, loc, s))));
    t.p = k.select(keep, t.p, zero);
    t.ds = k.fmul(dp, k.fmul(t.p, k.fsub(one, t.p)));
    break;
  case AggregationKind::none:
    t.p = k.select(keep, s, zero);
    t.ds = k.select(keep, dp, zero);
    break;
  case AggregationKind::entmax:
    llvm_unreachable("attn.attention_grad has no entmax (verifier)");
  }
  if (scoreMod)
    t.ds = chainScoreMod(raw, t.ds, h, i, j);
  return t;
}

Value GpuGradBuilder::maskScore(Value s, Value h, Value i, Value j,
                                Value full) {
  auto keepIf =
      scf::IfOp::create(rw, loc, rw.getI1Type(), full, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard g(rw);
    rw.setInsertionPointToStart(keepIf.thenBlock());
    scf::YieldOp::create(
        rw, loc,
        arith::ConstantOp::create(rw, loc, rw.getBoolAttr(true)).getResult());
    rw.setInsertionPointToStart(keepIf.elseBlock());
    MaskPredicateBuilder pb(rw, loc, sq, skv);
    pb.setIndices(bi, h, i, j);
    scf::YieldOp::create(
        rw, loc,
        pb.buildAll(op.getPatterns(), op.getMaskOperands(), op.getPredicate()));
  }
  return k.select(keepIf.getResult(0), s, k.negInf());
}

Value GpuGradBuilder::chainScoreMod(Value raw, Value ds, Value h, Value i,
                                    Value j) {
  // A zero ds (masked) stays exactly 0 whatever the region's derivative.
  Value zero = k.f32(0.0);
  Value skip = k.feq(ds, zero);
  Value args[] = {raw, bi, h, i, j};
  // No captures (the pattern declines them): nothing is read from float
  // tensors.
  FailureOr<SmallVector<Value>> adj =
      emitBlockAdjoint(rw, loc, op.getScoreMod().front(), args, {ds},
                       [](Value, ValueRange, Value) {});
  // The pattern checked that the region is differentiable.
  assert(succeeded(adj) && "score_mod has no adjoint");
  return k.select(skip, zero, (*adj)[1]);
}

FailureOr<SmallVector<Value>>
mlir::attn::gpuTileAttentionGrad(RewriterBase &rw, AttentionGradOp op,
                                 const GpuTileOptions &options) {
  // The gradients of captured tensors are scattered at the indices the
  // region reads: without atomics that needs per-block private copies, left
  // to attn-decompose.
  if (!op.getCaptures().empty())
    return rw.notifyMatchFailure(op, "captured tensors: attn-decompose");
  if (!op.getPositions().empty())
    return rw.notifyMatchFailure(op, "positions: CPU forms only");
  std::optional<HeadDims> dims = staticHeadDims(op);
  if (!dims)
    return rw.notifyMatchFailure(op, "dynamic head count or head dimension");
  if (!op.getScoreMod().empty() &&
      failed(checkBlockDifferentiable(op.getScoreMod().front())))
    return failure();
  OpBuilder::InsertionGuard guard(rw);
  rw.setInsertionPoint(op);
  return GpuGradBuilder(rw, op, configureGrad(options, *dims), *dims).build();
}

namespace {
struct GpuTileAttentionGrad : OpRewritePattern<AttentionGradOp> {
  GpuTileAttentionGrad(MLIRContext *ctx, GpuTileOptions options)
      : OpRewritePattern(ctx), options(options) {}
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> results =
        gpuTileAttentionGrad(rewriter, op, options);
    if (failed(results))
      return failure();
    rewriter.replaceOp(op, *results);
    return success();
  }
  GpuTileOptions options;
};
} // namespace

void mlir::attn::populateGpuTileGradPatterns(RewritePatternSet &patterns,
                                             const GpuTileOptions &options) {
  patterns.add<GpuTileAttentionGrad>(patterns.getContext(), options);
}
