//===- AotEntries.h - checked entry points of compiled objects --*- C++ -*-===//
//
// attn-compile's objects are called from C, where nothing checks what the
// compiled code trusts. Each public function NAME therefore gets an exported
// entry point `int32_t attn_NAME(results, args...)` that makes attn-run's
// checks at run time: every descriptor (non-negative sizes, the static sizes
// of the type, contiguous row-major strides, a data pointer), the shape rules
// on dynamic sizes, and the data of CSR and index mask operands. It returns
// 0, or 2 with a one-line message for attn_last_error(); the object exports
// nothing else but attn_last_error and attn_set_num_threads.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNNER_AOTENTRIES_H
#define ATTN_RUNNER_AOTENTRIES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace attn_run {

/// The status of an entry point whose arguments break a rule.
constexpr int kInvalidArgumentStatus = 2;

/// A public function's signature, taken before lowering: its name and its
/// arguments' types (tensors are checked, scalars passed through).
struct AotEntry {
  std::string name;
  llvm::SmallVector<mlir::Type> arguments;
  unsigned numResults;
};

/// Why `name` cannot be an entry point name (not a C identifier, or the
/// name of an exported runtime function once prefixed), or empty.
std::string entryNameError(llvm::StringRef name);

/// Adds `@__attn_check_NAME(arguments) -> i32` for the public `func`: the
/// shape rules on its dynamic sizes and the data checks of its CSR and index
/// mask arguments, which report through `@__attn_report` and return 0 or
/// kInvalidArgumentStatus. Returns the entry's signature.
AotEntry addArgumentChecks(mlir::func::FuncOp func);

/// After lowering to the LLVM dialect (with llvm.emit_c_interface on every
/// entry and check function): defines the `attn_NAME` entry points, the
/// runtime (attn_last_error, attn_set_num_threads; with `openmp`, the thread
/// count reaches the OpenMP runtime), and gives every other definition
/// internal linkage.
void defineEntryPoints(mlir::ModuleOp module, llvm::ArrayRef<AotEntry> entries,
                       bool openmp);

} // namespace attn_run

#endif // ATTN_RUNNER_AOTENTRIES_H
