//===- InputValidation.h - checks of a program's inputs ---------*- C++ -*-===//
//
// What compiled code trusts and a tool must therefore check before running
// it: the entry's signature, .npy arguments against it, dynamic sizes that
// agree across the arguments, and the data of mask operands (CSR structure,
// index ranges). Every check reports like the tools do: one line naming the
// file (or argument) and the problem, then exit 2.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNNER_INPUTVALIDATION_H
#define ATTN_RUNNER_INPUTVALIDATION_H

#include "attn/Runner/HostTensor.h"

#include "attn/IR/AttnShapes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <string>
#include <vector>

namespace attn_run {

/// The role of a mask operand: the dynamic pattern that consumes it and the
/// operand's position within that pattern.
struct MaskRole {
  mlir::Attribute pattern;
  unsigned position; // within the pattern's operands
  unsigned first;    // index of the pattern's first mask operand
};

/// A mask in the program: an attn.mask or a fused attn.attention, with the
/// values whose dimension `qDim` / `kDim` is Sq / Skv.
struct MaskSite {
  mlir::ArrayAttr patterns;
  mlir::ValueRange operands;
  mlir::Value queries, keys;
  unsigned qDim, kDim;
};

/// The mask `op` applies, if it is an attn.mask or attn.attention.
std::optional<MaskSite> maskSite(mlir::Operation *op);

/// The role of each mask operand of `site`, in operand order.
llvm::SmallVector<MaskRole> maskRoles(const MaskSite &site);

/// The mask operand argument `index` of `func` is, with its site (the last
/// mask using it), if any.
std::optional<std::pair<MaskRole, MaskSite>>
argumentMaskRole(mlir::func::FuncOp func, unsigned index);

/// Checks that every argument of `func` is a ranked tensor of a supported
/// element type and every result a ranked tensor; reports against `file`.
void checkSignature(mlir::func::FuncOp func, const std::string &file);

/// Reads argument `index` of `func` from the .npy file `path`, checking its
/// dtype and shape against the argument's type.
HostTensor readArgument(mlir::func::FuncOp func, unsigned index,
                        const std::string &path);

/// Concrete shapes of the values of a function, propagated from its
/// arguments.
using KnownShapes = llvm::DenseMap<mlir::Value, mlir::attn::Shape>;

/// Propagates the shapes in `known` (the arguments') through the attn ops
/// of `func`, checking every shape rule and the declared static sizes of
/// their results; `onError(op, message)` hears of the first broken rule of
/// an op. With `recorder`, rules on its tags are recorded instead (a result
/// size that is a tag is recorded as equal to the declared one). With
/// `ignoreDeclaredSizes`, declared static sizes are not checked (a program
/// written for one shard, given the whole sequence).
void propagateShapes(
    mlir::func::FuncOp func, KnownShapes &known,
    mlir::attn::SizeRecorder *recorder,
    llvm::function_ref<void(mlir::Operation *, const std::string &)> onError,
    bool ignoreDeclaredSizes = false);

/// Propagates the concrete argument shapes through the attn ops of `func`
/// and checks every shape rule with them. Returns the known shapes.
/// `ignoreDeclaredSizes`: as for propagateShapes (sequence parallelism
/// checks the global inputs against the shard's program).
KnownShapes checkConcreteShapes(mlir::func::FuncOp func,
                                llvm::ArrayRef<HostTensor> args,
                                bool ignoreDeclaredSizes = false);

/// A data-carrying mask operand taken straight from an argument of its
/// function: an index list (`argument`) or a CSR structure (`argument` the
/// row pointers, `columns` the column indices), with its site's Sq and Skv.
struct ArgumentMaskData {
  bool csr;
  unsigned argument, columns;
  int64_t sq, skv;
};

/// The data mask operands of `func` that are arguments, at sites whose Sq
/// and Skv `known` (or the types) give; other sites are skipped.
llvm::SmallVector<ArgumentMaskData> argumentMaskData(mlir::func::FuncOp func,
                                                     const KnownShapes &known);

/// Validates data-carrying mask operands that come straight from arguments
/// (CSR structure, index ranges); compiled code trusts them. `argNames`
/// name the arguments in messages.
void validateMaskData(mlir::func::FuncOp func, llvm::ArrayRef<HostTensor> args,
                      llvm::ArrayRef<std::string> argNames,
                      const KnownShapes &known);

} // namespace attn_run

#endif // ATTN_RUNNER_INPUTVALIDATION_H
