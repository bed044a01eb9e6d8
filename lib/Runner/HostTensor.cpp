//===- HostTensor.cpp - tensors exchanged with compiled code --------------===//

#include "attn/Runner/HostTensor.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

using namespace attn_run;
using namespace mlir;

namespace {

float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;
  } else { // subnormal: renormalise
    exp = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      --exp;
    }
    u = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  uint32_t absU = u & 0x7fffffff;
  if (absU > 0x7f800000)
    return sign | 0x7e00; // NaN
  if (absU >= 0x477ff000)
    return sign | 0x7c00;  // overflow to inf (>= 65520 rounds up)
  if (absU < 0x38800000) { // subnormal or zero in half
    if (absU < 0x33000000)
      return sign;
    uint32_t exp = absU >> 23;
    uint32_t mant = (absU & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - exp; // 14 + (112 - (exp - 127 + 127 - 1))
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t v = absU - 0x38000000; // rebias exponent 127 -> 15
  uint32_t half = v >> 13;
  uint32_t rem = v & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    ++half;
  return sign | static_cast<uint16_t>(half);
}

template <typename T> T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T> void store(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

} // namespace

size_t attn_run::storageSize(Type type) {
  if (type.isF32() || type.isInteger(32))
    return 4;
  if (type.isF16() || type.isBF16() || type.isInteger(16))
    return 2;
  if (type.isF64() || type.isInteger(64) || type.isIndex())
    return 8;
  if (type.isInteger(1) || type.isInteger(8))
    return 1;
  return 0;
}

std::string attn_run::expectedDescr(Type type) {
  if (type.isF32() || type.isBF16())
    return "float32 ('<f4')";
  if (type.isF16())
    return "float16 ('<f2')";
  if (type.isF64())
    return "float64 ('<f8')";
  if (type.isInteger(1))
    return "bool ('|b1') or uint8 0/1 ('|u1')";
  if (type.isInteger(8))
    return "int8 ('|i1')";
  if (type.isInteger(16))
    return "int16 ('<i2')";
  if (type.isInteger(32))
    return "int32 ('<i4')";
  if (type.isInteger(64) || type.isIndex())
    return "int64 ('<i8')";
  return "an unsupported element type";
}

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

size_t HostTensor::elementSize() const { return storageSize(elementType); }

double HostTensor::get(int64_t i) const {
  const uint8_t *p = storage.data() + i * elementSize();
  if (elementType.isF32())
    return load<float>(p);
  if (elementType.isF16())
    return halfToFloat(load<uint16_t>(p));
  if (elementType.isBF16())
    return attn_run::bf16ToFloat(load<uint16_t>(p));
  if (elementType.isF64())
    return load<double>(p);
  if (elementType.isInteger(1))
    return *p ? 1.0 : 0.0;
  if (elementType.isInteger(8))
    return load<int8_t>(p);
  if (elementType.isInteger(16))
    return load<int16_t>(p);
  if (elementType.isInteger(32))
    return load<int32_t>(p);
  return static_cast<double>(load<int64_t>(p));
}

void HostTensor::set(int64_t i, double v) {
  uint8_t *p = storage.data() + i * elementSize();
  if (elementType.isF32())
    store<float>(p, static_cast<float>(v));
  else if (elementType.isF16())
    store<uint16_t>(p, floatToHalf(static_cast<float>(v)));
  else if (elementType.isBF16())
    store<uint16_t>(p, attn_run::floatToBF16(static_cast<float>(v)));
  else if (elementType.isF64())
    store<double>(p, v);
  else if (elementType.isInteger(1))
    *p = v != 0.0;
  else if (elementType.isInteger(8))
    store<int8_t>(p, static_cast<int8_t>(v));
  else if (elementType.isInteger(16))
    store<int16_t>(p, static_cast<int16_t>(v));
  else if (elementType.isInteger(32))
    store<int32_t>(p, static_cast<int32_t>(v));
  else
    store<int64_t>(p, static_cast<int64_t>(v));
}

/// The .npy dtype that holds `type` (bf16 travels as float32); empty when
/// unsupported.
static std::string npyDescr(Type type) {
  if (type.isF32() || type.isBF16())
    return "<f4";
  if (type.isF16())
    return "<f2";
  if (type.isF64())
    return "<f8";
  if (type.isInteger(1))
    return "|b1";
  if (type.isInteger(8))
    return "|i1";
  if (type.isInteger(16))
    return "<i2";
  if (type.isInteger(32))
    return "<i4";
  if (type.isInteger(64) || type.isIndex())
    return "<i8";
  return "";
}

static bool descrMatches(const std::string &descr, Type type) {
  // Booleans are also accepted as uint8 0/1.
  return descr == npyDescr(type) || (type.isInteger(1) && descr == "|u1");
}

bool attn_run::fromNpy(const NpyArray &array, RankedTensorType type,
                       HostTensor &tensor, std::string &error) {
  Type elt = type.getElementType();
  if (storageSize(elt) == 0) {
    error = "unsupported element type in the function signature";
    return false;
  }
  if (!descrMatches(array.descr, elt)) {
    std::string eltName;
    llvm::raw_string_ostream os(eltName);
    os << elt;
    error = "dtype '" + array.descr + "' but element type " + eltName +
            " needs " + expectedDescr(elt);
    return false;
  }
  if (array.shape.size() != static_cast<size_t>(type.getRank())) {
    error = "rank " + std::to_string(array.shape.size()) +
            " does not match the argument's rank " +
            std::to_string(type.getRank());
    return false;
  }
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!type.isDynamicDim(d) && type.getDimSize(d) != array.shape[d]) {
      error = "dimension " + std::to_string(d) + " is " +
              std::to_string(array.shape[d]) + " but the argument needs " +
              std::to_string(type.getDimSize(d));
      return false;
    }
  }
  tensor.shape = array.shape;
  tensor.elementType = elt;
  int64_t n = tensor.numElements();
  tensor.storage.assign(n * tensor.elementSize(), 0);
  if (elt.isBF16()) {
    for (int64_t i = 0; i < n; ++i)
      tensor.set(i, load<float>(array.bytes.data() + 4 * i));
    return true;
  }
  if (elt.isInteger(1)) {
    for (int64_t i = 0; i < n; ++i) {
      uint8_t b = array.bytes[i];
      if (b > 1) {
        error = "boolean data must be 0 or 1, found " + std::to_string(b) +
                " at flat index " + std::to_string(i);
        return false;
      }
      tensor.storage[i] = b;
    }
    return true;
  }
  tensor.storage = array.bytes;
  return true;
}

NpyArray attn_run::toNpy(const HostTensor &tensor) {
  NpyArray array;
  array.shape = tensor.shape;
  Type elt = tensor.elementType;
  int64_t n = tensor.numElements();
  array.descr = npyDescr(elt);
  if (elt.isBF16()) {
    array.bytes.resize(4 * n);
    for (int64_t i = 0; i < n; ++i)
      store<float>(array.bytes.data() + 4 * i,
                   static_cast<float>(tensor.get(i)));
    return array;
  }
  array.bytes = tensor.storage;
  return array;
}

mlir::attn::reference::Tensor attn_run::toReference(const HostTensor &tensor) {
  mlir::attn::reference::Tensor t;
  t.shape.assign(tensor.shape.begin(), tensor.shape.end());
  t.elementType = tensor.elementType;
  int64_t n = tensor.numElements();
  t.data.resize(n);
  for (int64_t i = 0; i < n; ++i)
    t.data[i] = tensor.get(i);
  return t;
}

HostTensor attn_run::fromReference(const mlir::attn::reference::Tensor &t) {
  HostTensor tensor;
  tensor.shape.assign(t.shape.begin(), t.shape.end());
  tensor.elementType = t.elementType;
  tensor.storage.assign(tensor.numElements() * tensor.elementSize(), 0);
  for (int64_t i = 0; i < tensor.numElements(); ++i)
    tensor.set(i, t.data[i]);
  return tensor;
}
