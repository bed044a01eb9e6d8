//===- GpuEmulate.cpp - run gpu.launch kernels on CPU threads -------------===//
//
// The GPU kernels of attn-gpu-tile cannot run on a machine without a GPU,
// but their logic -- tile loops, shared-memory staging between barriers,
// masks, online softmax -- can: each gpu.launch becomes a sequential loop
// over its blocks, and each block one OpenMP parallel region with one CPU
// thread per GPU thread:
//
//   scf.for bz, by, bx:
//     workgroup buffers (shared by the block's threads)
//     omp.parallel num_threads(blockDim.x * y * z):
//       t = omp_get_thread_num(); tx, ty, tz from t
//       private buffers; the kernel body; gpu.barrier -> omp.barrier;
//       gpu.shuffle xor -> through a per-block f32 exchange buffer between
//       two barriers (the shuffles of a kernel must be convergent over the
//       block, as they are on the GPU over each warp)
//
// Barriers keep their meaning (every thread of the block waits), so a kernel
// that is right here differs on a GPU only in what the NVVM lowering does.
// This is a test vehicle (attn-run --pipeline=gpu-emulated), not a form.
//
//===----------------------------------------------------------------------===//

#include "attn/Kernel/KernelBuilder.h"
#include "attn/Lowering/GpuEmulate.h"
#include "attn/Lowering/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNGPUEMULATE
#include "attn/Lowering/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The memref type without its GPU memory space.
MemRefType onHostMemory(Type t) {
  auto m = cast<MemRefType>(t);
  return MemRefType::get(m.getShape(), m.getElementType(), m.getLayout());
}

/// Declares `omp_get_thread_num` (libomp) in `module` once.
func::FuncOp threadNumFunc(ModuleOp module) {
  constexpr StringLiteral name = "omp_get_thread_num";
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b(module.getBodyRegion());
  auto f = func::FuncOp::create(b, module.getLoc(), name,
                                b.getFunctionType({}, {b.getI32Type()}));
  f.setPrivate();
  return f;
}

/// Rewrites the f32 xor shuffles of a block's region: each thread writes
/// its value to an exchange buffer, all wait, each reads its partner's
/// (thread t ^ offset: within its warp, as offsets stay below the width),
/// all wait again before the buffer is reused.
void emulateShuffles(omp::ParallelOp parallel, Value tid, Value threads) {
  SmallVector<gpu::ShuffleOp> shuffles;
  parallel.walk([&](gpu::ShuffleOp op) { shuffles.push_back(op); });
  if (shuffles.empty())
    return;
  OpBuilder b(parallel);
  Location loc = parallel.getLoc();
  Value exchange = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
      ValueRange{threads});
  b.setInsertionPointAfter(parallel);
  memref::DeallocOp::create(b, loc, exchange);
  for (gpu::ShuffleOp op : shuffles) {
    b.setInsertionPoint(op);
    Value offset =
        arith::IndexCastOp::create(b, loc, b.getIndexType(), op.getOffset());
    Value partner = arith::XOrIOp::create(b, loc, tid, offset);
    memref::StoreOp::create(b, loc, op.getValue(), exchange, tid);
    omp::BarrierOp::create(b, loc);
    Value got = memref::LoadOp::create(b, loc, exchange, partner);
    omp::BarrierOp::create(b, loc);
    op.getShuffleResult().replaceAllUsesWith(got);
    op.getValid().replaceAllUsesWith(
        arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
    op.erase();
  }
}

LogicalResult emulate(gpu::LaunchOp launch, func::FuncOp threadNum) {
  if (launch.getAsyncToken() || launch.getDynamicSharedMemorySize() ||
      launch.hasClusterSize())
    return launch.emitOpError("emulation supports synchronous launches "
                              "without clusters or dynamic shared memory");
  if (!launch.getBody().hasOneBlock())
    return launch.emitOpError("emulation supports single-block kernels");
  OpBuilder b(launch);
  Location loc = launch.getLoc();
  KernelBuilder k(b, loc);
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  Value zero = k.idx(0), one = k.idx(1);
  IRMapping map;
  Block &body = launch.getBody().front();
  map.map(launch.getGridSize().x, grid.x);
  map.map(launch.getGridSize().y, grid.y);
  map.map(launch.getGridSize().z, grid.z);
  map.map(launch.getBlockSize().x, block.x);
  map.map(launch.getBlockSize().y, block.y);
  map.map(launch.getBlockSize().z, block.z);

  auto loop = [&](Value ub, function_ref<void(Value)> fn) {
    auto forOp = scf::ForOp::create(b, loc, zero, ub, one);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forOp.getBody());
    fn(forOp.getInductionVar());
  };
  loop(grid.z, [&](Value bz) {
    loop(grid.y, [&](Value by) {
      loop(grid.x, [&](Value bx) {
        map.map(launch.getBlockIds().x, bx);
        map.map(launch.getBlockIds().y, by);
        map.map(launch.getBlockIds().z, bz);
        // The block's shared memory, freed when its threads are done.
        SmallVector<Value> shared;
        for (BlockArgument arg : launch.getWorkgroupAttributions()) {
          // Aligned as on the GPU (attn-gpu-align-shared): the kernels'
          // 16-byte vector loads rely on it.
          shared.push_back(memref::AllocOp::create(
              b, loc, onHostMemory(arg.getType()), ValueRange{}, ValueRange{},
              b.getI64IntegerAttr(64)));
          map.map(arg, shared.back());
        }
        Value threads = k.mul(k.mul(block.x, block.y), block.z);
        Value threads32 =
            arith::IndexCastOp::create(b, loc, b.getI32Type(), threads);
        omp::ParallelOperands clauses;
        clauses.numThreads = threads32;
        auto parallel = omp::ParallelOp::create(b, loc, clauses);
        for (Value buffer : shared)
          memref::DeallocOp::create(b, loc, buffer);
        Block *inner = b.createBlock(&parallel.getRegion());
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(inner);
        Value t = arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            func::CallOp::create(b, loc, threadNum).getResult(0));
        Value tx = arith::RemUIOp::create(b, loc, t, block.x);
        Value rest = arith::DivUIOp::create(b, loc, t, block.x);
        map.map(launch.getThreadIds().x, tx);
        map.map(launch.getThreadIds().y,
                arith::RemUIOp::create(b, loc, rest, block.y).getResult());
        map.map(launch.getThreadIds().z,
                arith::DivUIOp::create(b, loc, rest, block.y).getResult());
        for (BlockArgument arg : launch.getPrivateAttributions())
          map.map(arg,
                  memref::AllocaOp::create(b, loc, onHostMemory(arg.getType()))
                      .getResult());
        for (Operation &op : body.without_terminator())
          b.clone(op, map);
        omp::TerminatorOp::create(b, loc);
        emulateShuffles(parallel, t, threads);
      });
    });
  });
  launch.erase();
  return success();
}

} // namespace

LogicalResult mlir::attn::emulateGpuLaunches(ModuleOp module) {
  SmallVector<gpu::LaunchOp> launches;
  module.walk([&](gpu::LaunchOp l) { launches.push_back(l); });
  if (launches.empty())
    return success();
  func::FuncOp threadNum = threadNumFunc(module);
  for (gpu::LaunchOp launch : launches)
    if (failed(emulate(launch, threadNum)))
      return failure();
  // Barriers inside the cloned bodies become OpenMP barriers.
  SmallVector<gpu::BarrierOp> barriers;
  module.walk([&](gpu::BarrierOp op) { barriers.push_back(op); });
  for (gpu::BarrierOp barrier : barriers) {
    OpBuilder b(barrier);
    omp::BarrierOp::create(b, barrier.getLoc());
    barrier.erase();
  }
  return success();
}

namespace {
struct AttnGpuEmulatePass : attn::impl::AttnGpuEmulateBase<AttnGpuEmulatePass> {
  void runOnOperation() override {
    if (failed(emulateGpuLaunches(getOperation())))
      signalPassFailure();
  }
};
} // namespace
