//===- attn-embed.cpp - the attn CPU pipeline inside another compiler -----===//
//
// What a host compiler does to embed attn (docs/embedding.md): register the
// dialects, parse a program, lower it with the CPU pipeline (attn-to-llvm),
// run it with MLIR's JIT and compare the result with attn's reference
// interpreter. Exits 0 when the two agree.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Reference/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <cmath>
#include <cstdlib>
#include <vector>

using namespace mlir;

// Causal grouped-query attention: two query heads share one K/V head.
static const char *kProgram = R"mlir(
func.func @causal(%q: tensor<1x2x8x4xf32>, %k: tensor<1x1x8x4xf32>,
                  %v: tensor<1x1x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %s = attn.score %q, %k : tensor<1x2x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x2x8x8xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x8x8xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x8x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}
)mlir";

namespace {

using Shape = std::vector<int64_t>;
const Shape kQShape = {1, 2, 8, 4}, kKVShape = {1, 1, 8, 4};

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t size : shape)
    n *= size;
  return n;
}

/// Deterministic inputs in [-1, 1].
std::vector<float> input(const Shape &shape, int seed) {
  std::vector<float> data(numElements(shape));
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = std::sin(0.37f * i + seed);
  return data;
}

/// A dense row-major buffer as the memref descriptor compiled code takes.
StridedMemRefType<float, 4> descriptor(std::vector<float> &data,
                                       const Shape &shape) {
  StridedMemRefType<float, 4> d;
  d.basePtr = d.data = data.data();
  d.offset = 0;
  for (int64_t i = 3, stride = 1; i >= 0; --i) {
    d.sizes[i] = shape[i];
    d.strides[i] = stride;
    stride *= shape[i];
  }
  return d;
}

/// Runs `module` (already lowered to the LLVM dialect) on q, k, v; returns
/// the output in row-major order.
std::vector<float> runCompiled(ModuleOp module, std::vector<float> q,
                               std::vector<float> k, std::vector<float> v) {
  ExecutionEngineOptions options;
  SmallVector<StringRef> libs = {OPENMP_RUNTIME, C_RUNNER_UTILS};
  options.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, options);
  if (!engine) {
    llvm::errs() << "JIT: " << llvm::toString(engine.takeError()) << "\n";
    std::exit(1);
  }
  StridedMemRefType<float, 4> result, qd = descriptor(q, kQShape),
                                      kd = descriptor(k, kKVShape),
                                      vd = descriptor(v, kKVShape);
  // _mlir_ciface_causal(&result, &q, &k, &v), through the packed wrapper.
  void *resultPtr = &result, *qPtr = &qd, *kPtr = &kd, *vPtr = &vd;
  SmallVector<void *> packed = {&resultPtr, &qPtr, &kPtr, &vPtr};
  if (llvm::Error err =
          (*engine)->invokePacked("_mlir_ciface_causal", packed)) {
    llvm::errs() << "call: " << llvm::toString(std::move(err)) << "\n";
    std::exit(1);
  }
  std::vector<float> out;
  for (int64_t b = 0; b < result.sizes[0]; ++b)
    for (int64_t h = 0; h < result.sizes[1]; ++h)
      for (int64_t s = 0; s < result.sizes[2]; ++s)
        for (int64_t d = 0; d < result.sizes[3]; ++d)
          out.push_back(
              result.data[result.offset + b * result.strides[0] +
                          h * result.strides[1] + s * result.strides[2] +
                          d * result.strides[3]]);
  std::free(result.basePtr); // the result is a fresh malloc'ed buffer
  return out;
}

/// The reference interpreter's output for the same inputs (f64).
std::vector<double> runReference(func::FuncOp func,
                                 ArrayRef<std::vector<float>> inputs) {
  const Shape *shapes[] = {&kQShape, &kKVShape, &kKVShape};
  SmallVector<attn::reference::Tensor> args, results;
  for (auto [data, shape] : llvm::zip(inputs, shapes)) {
    attn::reference::Tensor t;
    t.shape.assign(shape->begin(), shape->end());
    t.elementType = Float32Type::get(func.getContext());
    t.data.assign(data.begin(), data.end());
    args.push_back(std::move(t));
  }
  std::string error;
  if (!attn::reference::evaluate(func, args, results, error)) {
    llvm::errs() << "reference: " << error << "\n";
    std::exit(1);
  }
  return results[0].data;
}

} // namespace

int main() {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();

  // One call registers the attn dialect and every dialect, extension and
  // LLVM IR translation the pipelines use.
  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kProgram, &context);
  if (!module)
    return 1; // the parser has reported the error

  std::vector<float> q = input(kQShape, 1), k = input(kKVShape, 2),
                     v = input(kKVShape, 3);
  std::vector<double> expected =
      runReference(module->lookupSymbol<func::FuncOp>("causal"), {q, k, v});

  // The CPU pipeline, for this machine's CPU; the C interface
  // (_mlir_ciface_causal) takes memref descriptors.
  module->lookupSymbol<func::FuncOp>("causal")->setAttr(
      "llvm.emit_c_interface", UnitAttr::get(&context));
  attn::ToLLVMOptions options;
  options.targetCpu = llvm::sys::getHostCPUName().str();
  PassManager pm(&context);
  attn::buildToLLVMPipeline(pm, options);
  if (failed(pm.run(*module)) || failed(verify(*module)))
    return 1;
  unsigned llvmOps = 0;
  module->walk([&](Operation *op) {
    llvmOps += op->getDialect() && op->getDialect()->getNamespace() == "llvm";
  });

  std::vector<float> actual = runCompiled(*module, q, k, v);
  double maxError = actual.size() == expected.size() ? 0 : INFINITY;
  for (size_t i = 0; i < actual.size() && i < expected.size(); ++i)
    maxError = std::max(maxError, std::abs(actual[i] - expected[i]));
  bool ok = maxError <= 1e-5;
  llvm::outs() << "attn-embed: lowered to " << llvmOps
               << " llvm ops; max |cpu - reference| = " << maxError
               << (ok ? " (ok)" : " (MISMATCH)") << "\n";
  return ok ? 0 : 1;
}
