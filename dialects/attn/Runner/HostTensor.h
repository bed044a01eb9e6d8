//===- HostTensor.h - tensors exchanged with compiled code ------*- C++ -*-===//
#ifndef ATTN_RUNNER_HOSTTENSOR_H
#define ATTN_RUNNER_HOSTTENSOR_H

#include "attn/Runner/Npy.h"

#include "attn/Reference/Interpreter.h"
#include "mlir/IR/BuiltinTypes.h"

#include <string>
#include <vector>

namespace attn_run {

/// A tensor in the element layout compiled code reads and writes: f32, f16
/// and bf16 as their bit patterns, integers little-endian, i1 as one byte.
struct HostTensor {
  std::vector<int64_t> shape;
  mlir::Type elementType;
  std::vector<uint8_t> storage;

  int64_t numElements() const;
  size_t elementSize() const;
  double get(int64_t i) const;
  void set(int64_t i, double v);
};

/// Bytes per element for supported element types; 0 when unsupported.
size_t storageSize(mlir::Type type);

/// Human-readable dtype for messages ("float32", "bool", ...).
std::string expectedDescr(mlir::Type type);

/// Converts a .npy array to a tensor of `type` (a ranked tensor type with
/// possibly dynamic sizes). Returns false with `error` on a dtype/shape
/// mismatch or invalid values.
bool fromNpy(const NpyArray &array, mlir::RankedTensorType type,
             HostTensor &tensor, std::string &error);

/// Converts a tensor to .npy (bf16 as float32, i1 as bool).
NpyArray toNpy(const HostTensor &tensor);

mlir::attn::reference::Tensor toReference(const HostTensor &tensor);
HostTensor fromReference(const mlir::attn::reference::Tensor &tensor);

} // namespace attn_run

#endif // ATTN_RUNNER_HOSTTENSOR_H
