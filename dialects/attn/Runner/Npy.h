//===- Npy.h - NumPy .npy reading and writing -------------------*- C++ -*-===//
#ifndef ATTN_RUNNER_NPY_H
#define ATTN_RUNNER_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace attn_run {

/// The contents of a .npy file: the descr string ('<f4', '|b1', ...), the
/// shape and the raw little-endian C-order bytes.
struct NpyArray {
  std::string descr;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numElements() const;
};

/// Reads `path`; on failure returns false with a one-line `error`.
bool readNpy(const std::string &path, NpyArray &array, std::string &error);

/// Writes `array` (format version 1.0); on failure returns false.
bool writeNpy(const std::string &path, const NpyArray &array,
              std::string &error);

/// bf16 <-> float32 (bf16 travels as float32 in .npy): round to nearest
/// even, NaN kept.
uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t h);

/// `bytes` = elementSize times the product of `shape`; false when a size is
/// negative or the product exceeds 2^63 - 1.
bool checkedNumBytes(const std::vector<int64_t> &shape, size_t elementSize,
                     int64_t &bytes);

/// Size in bytes of one element of `descr`, or 0 when unsupported.
size_t npyElementSize(const std::string &descr);

} // namespace attn_run

#endif // ATTN_RUNNER_NPY_H
