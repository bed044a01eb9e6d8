//===- Interpreter.h - f64 reference interpreter for attn -------*- C++ -*-===//
//
// Evaluates a func.func made of attn ops (and the arith/math/tensor/linalg/scf
// ops around and inside them) directly in f64, following the semantics in docs/language.md.
// It shares no code with any lowering, so it serves as an independent oracle.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_REFERENCE_INTERPRETER_H
#define ATTN_REFERENCE_INTERPRETER_H

#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace mlir {
namespace func {
class FuncOp;
} // namespace func

namespace attn::reference {

/// A dense row-major tensor (rank 0 for scalars). Every element type is held
/// as double: floats exactly as their value, integers/index/i1 as integers.
struct Tensor {
  SmallVector<int64_t> shape;
  Type elementType;
  std::vector<double> data;

  int64_t numElements() const;
};

/// Evaluates `func` on `args` (one per function argument, with concrete
/// shapes). On failure returns false and sets `error` to a one-line message
/// (unsupported op, invalid data such as an out-of-range CSR index, ...).
bool evaluate(func::FuncOp func, ArrayRef<Tensor> args,
              SmallVectorImpl<Tensor> &results, std::string &error);

} // namespace attn::reference
} // namespace mlir

#endif // ATTN_REFERENCE_INTERPRETER_H
