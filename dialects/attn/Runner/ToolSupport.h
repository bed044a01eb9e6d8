//===- ToolSupport.h - error reporting shared by the attn tools -*- C++ -*-===//
//
// attn-run and attn-compile report every invalid program or input as one
// line naming the file (or flag) and the problem, and exit 2. Running out of
// memory exits 3 and a crash (a bug) exits 4, each with one line too.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNNER_TOOLSUPPORT_H
#define ATTN_RUNNER_TOOLSUPPORT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <utility>
#include <vector>

namespace attn_tools {

/// The host as attn-to-llvm's target-cpu and target-features options (the
/// CPU name is left empty where the cost model does not know it; the
/// features then say everything).
std::pair<std::string, std::string> hostTargetOptions();

/// The instruction-set features that code for CPU `cpu` with `features`
/// ("+f,-g") may use and this machine lacks (empty: it runs here), or
/// failure for an unknown CPU or a malformed feature list.
mlir::FailureOr<std::vector<std::string>>
featuresMissingOnHost(llvm::StringRef cpu, llvm::StringRef features);

/// Reports an invalid program or input and exits with status 2.
[[noreturn]] void fail(const std::string &subject, const std::string &msg);

/// fail() for the reference interpreter's messages about `file`: one that
/// starts with an op's "LINE:COLUMN: " is reported as "FILE:LINE:COLUMN: ...".
[[noreturn]] void failInFile(const std::string &file, const std::string &msg);

/// Parses the command line with llvm::cl (`--flag=value` and `--flag
/// value`), MLIR's --mlir-* context, pass manager, timing and printing
/// options included; --help shows only `category` (--help-hidden the rest).
/// An error prints llvm::cl's first line, which names the tool and the
/// flag, and exits 2.
void parseCommandLine(int argc, char **argv, llvm::cl::OptionCategory &category,
                      llvm::StringRef overview);

/// Applies the --mlir-* pass manager and timing options to `pm` (`tool`
/// names the tool in an error).
void applyMLIROptions(mlir::PassManager &pm, const std::string &tool);

/// Exit statuses beyond 0 (success), 1 (attn-run --check failed) and 2
/// (invalid program or input).
constexpr int kOutOfMemoryStatus = 3;
constexpr int kInternalErrorStatus = 4;

/// Installs the tools' handling of what should never happen. A crash (a
/// fatal signal in any thread, or an LLVM fatal error) prints one line,
/// "TOOL: internal error: SIGNAL while PHASE; please report it", and exits
/// kInternalErrorStatus; ATTN_CRASH_TRACE=1 adds LLVM's stack trace. A
/// failed allocation (operator new, LLVM's allocators) prints
/// "TOOL: out of memory while PHASE" and exits kOutOfMemoryStatus.
void installCrashHandlers(const char *toolName);

/// Names what the tool does now, for those messages (a string literal: it
/// is read from a signal handler). For tests, ATTN_TEST_CRASH=PHASE raises
/// SIGSEGV when that phase starts.
void setPhase(const char *phase);

/// ": REASON" from the option parser's output `text` (its first line,
/// without llvm::cl's "<Pass-Options-Parser>: " prefix), or empty.
std::string firstLineOfOptionError(const std::string &text);

/// Parses `text` as the options of `pipeline` (given by `flag`); exits 2
/// with one line naming the flag and the problem when they do not parse.
template <typename OptionsT>
std::unique_ptr<OptionsT> parsePipelineOptions(const std::string &flag,
                                               const std::string &pipeline,
                                               const std::string &text) {
  auto options = std::make_unique<OptionsT>();
  std::string why;
  llvm::raw_string_ostream os(why);
  if (failed(options->parseFromString(text, os)))
    fail(flag, "invalid " + pipeline + " options '" + text + "'" +
                   firstLineOfOptionError(why));
  return options;
}

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
