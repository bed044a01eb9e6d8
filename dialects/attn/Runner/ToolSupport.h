//===- ToolSupport.h - error reporting shared by the attn tools -*- C++ -*-===//
//
// attn-run and attn-compile report every invalid program or input as one
// line naming the file (or flag) and the problem, and exit 2.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNNER_TOOLSUPPORT_H
#define ATTN_RUNNER_TOOLSUPPORT_H

#include "attn/Kernel/CpuTarget.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace attn_tools {

/// The host as attn-to-llvm's target-cpu and target-features options (the
/// CPU name is left empty where the cost model does not know it; the
/// features then say everything).
inline std::pair<std::string, std::string> hostTargetOptions() {
  auto [cpu, features] = mlir::attn::getHostCpu();
  if (failed(mlir::attn::getCpuTarget(cpu, "")))
    cpu.clear();
  return {cpu, features};
}

/// Reports an invalid program or input and exits with status 2.
[[noreturn]] inline void fail(const std::string &subject,
                              const std::string &msg) {
  llvm::errs() << subject << ": " << msg << "\n";
  std::exit(2);
}

/// Keeps the first error diagnostic of `context`, as
/// "FILE:LINE:COL: error: MESSAGE" (or `file` when it has no location).
class FirstError {
public:
  FirstError(mlir::MLIRContext &context, std::string file)
      : file(std::move(file)),
        handler(&context, [this](mlir::Diagnostic &diag) {
          if (diag.getSeverity() != mlir::DiagnosticSeverity::Error ||
              !message.empty())
            return mlir::success();
          std::string loc;
          llvm::raw_string_ostream os(loc);
          if (auto fl =
                  llvm::dyn_cast<mlir::FileLineColLoc>(diag.getLocation()))
            os << fl.getFilename().getValue() << ":" << fl.getLine() << ":"
               << fl.getColumn();
          else
            os << this->file;
          message = loc + ": error: " + diag.str();
          return mlir::success();
        }) {}

  /// The first error, or empty.
  const std::string &str() const { return message; }
  /// ": <first error>", or empty: for appending to a message.
  std::string suffix() const {
    return message.empty() ? std::string() : ": " + message;
  }

private:
  std::string file, message;
  mlir::ScopedDiagnosticHandler handler;
};

/// Parses `file` into a module; exits 2 with one line when it cannot be
/// read or does not parse and verify.
inline mlir::OwningOpRef<mlir::ModuleOp>
parseOrFail(const std::string &file, mlir::MLIRContext &context,
            const FirstError &error, llvm::SourceMgr &sourceMgr) {
  auto buffer = llvm::MemoryBuffer::getFile(file);
  if (!buffer)
    fail(file, "cannot read file: " + buffer.getError().message());
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module) {
    llvm::errs() << (error.str().empty() ? file + ": parse error" : error.str())
                 << "\n";
    std::exit(2);
  }
  return module;
}

/// The functions of `module` a caller can run: public, with a body.
inline llvm::SmallVector<mlir::func::FuncOp>
publicFunctions(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::func::FuncOp> publics;
  module.walk([&](mlir::func::FuncOp f) {
    if (f.isPublic() && !f.isExternal())
      publics.push_back(f);
  });
  return publics;
}

} // namespace attn_tools

#endif // ATTN_RUNNER_TOOLSUPPORT_H
