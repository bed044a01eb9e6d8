// Parses an attn program, runs attn-naive-to-llvm on it with the C++ API and
// reports what came out.
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

static const char *kProgram = R"mlir(
func.func @causal(%q: tensor<1x2x8x4xf32>, %k: tensor<1x1x8x4xf32>, %v: tensor<1x1x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %s = attn.score %q, %k : tensor<1x2x8x4xf32>, tensor<1x1x8x4xf32> -> tensor<1x2x8x8xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x8x8xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x8x8xf32>, tensor<1x1x8x4xf32> -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}
)mlir";

int main() {
  mlir::DialectRegistry registry;
  mlir::attn::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(kProgram, &context);
  if (!module)
    return 1;
  mlir::PassManager pm(&context);
  mlir::attn::buildNaiveToLLVMPipeline(pm, mlir::attn::NaiveToLLVMOptions());
  if (mlir::failed(pm.run(*module)))
    return 1;
  unsigned llvmOps = 0, otherOps = 0;
  module->walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "llvm")
      ++llvmOps;
    else if (!mlir::isa<mlir::ModuleOp>(op))
      ++otherOps;
  });
  llvm::outs() << "consumer: lowered to " << llvmOps << " llvm ops, "
               << otherOps << " others\n";
  return 0;
}
