//===- attn-fuzz.cpp - libFuzzer target over parse, verify and lowering ---===//
//
// Whatever the bytes, the compiler must answer with a module or a
// diagnostic, never crash: each input is parsed and verified, then lowered
// by attn-naive-to-llvm, by attn-to-llvm, and by attn-grad followed by
// attn-to-llvm, each on its own copy. Nothing is executed. Diagnostics are
// expected and discarded; a crash, a sanitizer report or a timeout is a
// finding. How to run it: docs/testing.md.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <cstring>

using namespace mlir;

namespace {

/// The registries and one context for every input (creating a context per
/// input would spend most of the time loading dialects).
MLIRContext &fuzzContext() {
  static MLIRContext *context = [] {
    attn::registerAllPasses();
    attn::registerAllPipelines();
    DialectRegistry registry;
    attn::registerAllDialects(registry);
    auto *ctx = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    ctx->loadAllAvailableDialects();
    return ctx;
  }();
  return *context;
}

/// Runs the textual pipeline `spec` on a copy of `module`; failures are
/// fine, crashes are not.
void lower(ModuleOp module, StringRef spec) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(spec, pm)))
    llvm::report_fatal_error("attn-fuzz: bad pipeline " + spec);
  (void)pm.run(*copy);
}

/// MLIR 22's parsers of linalg.reduce, linalg.broadcast and
/// linalg.transpose crash on a malformed `dimensions = [...]` list instead of
/// reporting it (upstream, not attn: test/tools/attn-run/crash-handler.test).
/// Inputs with one are skipped so that the fuzzer keeps finding attn's
/// defects rather than that one again.
bool hasMalformedDimensions(StringRef text) {
  for (size_t at = text.find("dimensions"); at != StringRef::npos;
       at = text.find("dimensions", at + 1)) {
    StringRef rest = text.drop_front(at + strlen("dimensions")).ltrim();
    if (!rest.consume_front("="))
      continue; // not the attribute
    rest = rest.ltrim();
    size_t close = rest.find(']');
    if (!rest.consume_front("[") || close == StringRef::npos)
      return true;
    if (!llvm::all_of(rest.take_front(close - 1), [](char c) {
          return llvm::isDigit(c) || c == ',' || llvm::isSpace(c);
        }))
      return true;
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (hasMalformedDimensions(
          StringRef(reinterpret_cast<const char *>(data), size)))
    return 0;
  MLIRContext &context = fuzzContext();
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  llvm::SourceMgr sources;
  // MLIR's lexer reads up to a terminating NUL, which libFuzzer's data
  // lacks: a copy adds it (tools hand the parser files read with one).
  sources.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          StringRef(reinterpret_cast<const char *>(data), size), "input"),
      llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sources, ParserConfig(&context));
  if (!module)
    return 0;
  lower(*module, "builtin.module(attn-naive-to-llvm)");
  lower(*module, "builtin.module(attn-to-llvm)");
  lower(*module, "builtin.module(attn-grad,attn-to-llvm)");
  return 0;
}
