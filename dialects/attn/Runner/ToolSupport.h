//===- ToolSupport.h - error reporting shared by the attn tools -*- C++ -*-===//
//
// attn-run and attn-compile report every invalid program or input as one
// line naming the file (or flag) and the problem, and exit 2.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNNER_TOOLSUPPORT_H
#define ATTN_RUNNER_TOOLSUPPORT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <utility>

namespace attn_tools {

/// The host as attn-to-llvm's target-cpu and target-features options (the
/// CPU name is left empty where the cost model does not know it; the
/// features then say everything).
std::pair<std::string, std::string> hostTargetOptions();

/// Reports an invalid program or input and exits with status 2.
[[noreturn]] void fail(const std::string &subject, const std::string &msg);

/// fail() for the reference interpreter's messages about `file`: one that
/// starts with an op's "LINE:COLUMN: " is reported as "FILE:LINE:COLUMN: ...".
[[noreturn]] void failInFile(const std::string &file, const std::string &msg);

/// Keeps the first error diagnostic of `context`, as
/// "FILE:LINE:COL: error: MESSAGE" (or `file` when it has no location).
class FirstError {
public:
  FirstError(mlir::MLIRContext &context, std::string file);

  /// The first error, or empty.
  const std::string &str() const { return message; }
  /// ": <first error>", or empty: for appending to a message.
  std::string suffix() const {
    return message.empty() ? std::string() : ": " + message;
  }

private:
  mlir::LogicalResult record(mlir::Diagnostic &diag);

  std::string file, message;
  mlir::ScopedDiagnosticHandler handler;
};

/// Parses `file` into a module; exits 2 with one line when it cannot be
/// read or does not parse and verify.
mlir::OwningOpRef<mlir::ModuleOp> parseOrFail(const std::string &file,
                                              mlir::MLIRContext &context,
                                              const FirstError &error,
                                              llvm::SourceMgr &sourceMgr);

/// The functions of `module` a caller can run: public, with a body.
llvm::SmallVector<mlir::func::FuncOp> publicFunctions(mlir::ModuleOp module);

} // namespace attn_tools

#endif // ATTN_RUNNER_TOOLSUPPORT_H
