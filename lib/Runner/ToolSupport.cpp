//===- ToolSupport.cpp - error reporting shared by the attn tools ---------===//

#include "attn/Runner/ToolSupport.h"

#include "attn/Kernel/CpuTarget.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

std::pair<std::string, std::string> attn_tools::hostTargetOptions() {
  auto [cpu, features] = attn::getHostCpu();
  if (failed(attn::getCpuTarget(cpu, "")))
    cpu.clear();
  return {cpu, features};
}

void attn_tools::fail(const std::string &subject, const std::string &msg) {
  llvm::errs() << subject << ": " << msg << "\n";
  std::exit(2);
}

void attn_tools::failInFile(const std::string &file, const std::string &msg) {
  // "LINE:COLUMN: rest" -> subject "FILE:LINE:COLUMN".
  llvm::StringRef rest = msg;
  unsigned line = 0, column = 0;
  if (!rest.consumeInteger(10, line) && rest.consume_front(":") &&
      !rest.consumeInteger(10, column) && rest.consume_front(": "))
    fail(file + ":" + std::to_string(line) + ":" + std::to_string(column),
         rest.str());
  fail(file, msg);
}

attn_tools::FirstError::FirstError(MLIRContext &context, std::string file)
    : file(std::move(file)),
      handler(&context, [this](Diagnostic &diag) { return record(diag); }) {}

LogicalResult attn_tools::FirstError::record(Diagnostic &diag) {
  if (diag.getSeverity() != DiagnosticSeverity::Error || !message.empty())
    return success();
  std::string loc;
  llvm::raw_string_ostream os(loc);
  if (auto fl = dyn_cast<FileLineColLoc>(diag.getLocation()))
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":"
       << fl.getColumn();
  else
    os << file;
  message = loc + ": error: " + diag.str();
  return success();
}

OwningOpRef<ModuleOp> attn_tools::parseOrFail(const std::string &file,
                                              MLIRContext &context,
                                              const FirstError &error,
                                              llvm::SourceMgr &sourceMgr) {
  auto buffer = llvm::MemoryBuffer::getFile(file);
  if (!buffer)
    fail(file, "cannot read file: " + buffer.getError().message());
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module) {
    llvm::errs() << (error.str().empty() ? file + ": parse error" : error.str())
                 << "\n";
    std::exit(2);
  }
  return module;
}

SmallVector<func::FuncOp> attn_tools::publicFunctions(ModuleOp module) {
  SmallVector<func::FuncOp> publics;
  module.walk([&](func::FuncOp f) {
    if (f.isPublic() && !f.isExternal())
      publics.push_back(f);
  });
  return publics;
}
