//===- Npy.cpp - NumPy .npy reading and writing ---------------------------===//
//
// Format:
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html A
// magic string, a version, a header length and a Python dict literal with
// 'descr', 'fortran_order' and 'shape', then the raw data.
//
//===----------------------------------------------------------------------===//

#include "attn/Runner/Npy.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace attn_run;

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

bool attn_run::checkedNumBytes(const std::vector<int64_t> &shape,
                               size_t elementSize, int64_t &bytes) {
  // At most 2^63 - 1 bytes: sizes and offsets are int64 everywhere. (This
  // file builds without LLVM, for attn-aot-run: no llvm::checkedMul.)
  bytes = static_cast<int64_t>(elementSize);
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(bytes, d, &bytes))
      return false;
  return true;
}

size_t attn_run::npyElementSize(const std::string &descr) {
  if (descr == "<f4" || descr == "<i4" || descr == "<u4")
    return 4;
  if (descr == "<f2" || descr == "<i2" || descr == "<u2")
    return 2;
  if (descr == "<f8" || descr == "<i8" || descr == "<u8")
    return 8;
  if (descr == "|b1" || descr == "|u1" || descr == "|i1")
    return 1;
  return 0;
}

namespace {
std::string formatDims(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

/// The bytes of `path`. stdio, not std::ifstream: reading a directory must
/// be an error, not a std::ios_base::failure thrown from the stream buffer.
bool readFile(const std::string &path, std::string &content,
              std::string &error) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = std::string("cannot open file: ") + std::strerror(errno);
    return false;
  }
  char chunk[1 << 16];
  for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), file)) > 0;)
    content.append(chunk, n);
  int readError = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (readError) {
    error = std::string("cannot read file: ") + std::strerror(readError);
    return false;
  }
  return true;
}

/// Finds `'key':` in the header dict and returns the position after it.
size_t findKey(const std::string &header, const std::string &key) {
  size_t pos = header.find("'" + key + "'");
  if (pos == std::string::npos)
    return pos;
  pos = header.find(':', pos);
  return pos == std::string::npos ? pos : pos + 1;
}

void skipSpace(const std::string &s, size_t &pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos])))
    ++pos;
}
} // namespace

bool attn_run::readNpy(const std::string &path, NpyArray &array,
                       std::string &error) {
  std::string content;
  if (!readFile(path, content, error))
    return false;
  if (content.size() < 10 || content.compare(0, 6, "\x93NUMPY") != 0) {
    error = "not a NumPy .npy file (bad magic)";
    return false;
  }
  unsigned major = static_cast<unsigned char>(content[6]);
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(content[8]) |
                (static_cast<unsigned char>(content[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (content.size() < 12) {
      error = "truncated .npy header";
      return false;
    }
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |=
          static_cast<size_t>(static_cast<unsigned char>(content[8 + i]))
          << (8 * i);
    headerStart = 12;
  } else {
    error = "unsupported .npy format version " + std::to_string(major);
    return false;
  }
  if (content.size() < headerStart + headerLen) {
    error = "truncated .npy header";
    return false;
  }
  std::string header = content.substr(headerStart, headerLen);

  size_t pos = findKey(header, "descr");
  if (pos == std::string::npos) {
    error = "malformed .npy header: no 'descr'";
    return false;
  }
  skipSpace(header, pos);
  if (pos >= header.size() || header[pos] != '\'') {
    error = "malformed .npy header: 'descr' is not a simple dtype";
    return false;
  }
  size_t end = header.find('\'', pos + 1);
  if (end == std::string::npos) {
    error = "malformed .npy header: unterminated 'descr'";
    return false;
  }
  array.descr = header.substr(pos + 1, end - pos - 1);

  pos = findKey(header, "fortran_order");
  if (pos == std::string::npos) {
    error = "malformed .npy header: no 'fortran_order'";
    return false;
  }
  skipSpace(header, pos);
  if (header.compare(pos, 4, "True") == 0) {
    error = "Fortran-order arrays are not supported (use C order)";
    return false;
  }

  pos = findKey(header, "shape");
  if (pos == std::string::npos) {
    error = "malformed .npy header: no 'shape'";
    return false;
  }
  skipSpace(header, pos);
  if (pos >= header.size() || header[pos] != '(') {
    error = "malformed .npy header: bad 'shape'";
    return false;
  }
  end = header.find(')', pos);
  if (end == std::string::npos) {
    error = "malformed .npy header: bad 'shape'";
    return false;
  }
  array.shape.clear();
  std::string dims = header.substr(pos + 1, end - pos - 1);
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(" \t");
    if (a == std::string::npos)
      continue;
    size_t b = item.find_last_not_of(" \tL");
    std::string num = item.substr(a, b - a + 1);
    if (num.empty() ||
        num.find_first_not_of("0123456789") != std::string::npos) {
      error = "malformed .npy header: bad dimension '" + num + "'";
      return false;
    }
    // 19 digits may exceed int64; 18 always fit.
    if (num.size() > 19 || (num.size() == 19 && num > "9223372036854775807")) {
      error = "malformed .npy header: dimension " + num +
              " does not fit in 64 bits";
      return false;
    }
    array.shape.push_back(std::stoll(num));
  }

  size_t eltSize = npyElementSize(array.descr);
  if (eltSize == 0) {
    error = "unsupported dtype '" + array.descr + "'";
    return false;
  }
  size_t dataStart = headerStart + headerLen;
  int64_t expectedBytes;
  if (!checkedNumBytes(array.shape, eltSize, expectedBytes)) {
    error = "shape " + formatDims(array.shape) +
            " has more than 2^63 - 1 bytes of data";
    return false;
  }
  size_t expected = static_cast<size_t>(expectedBytes);
  size_t actual = content.size() - dataStart;
  if (actual < expected) {
    error = "truncated data: expected " + std::to_string(expected) +
            " bytes, found " + std::to_string(actual);
    return false;
  }
  if (actual > expected) {
    error = "trailing data: expected " + std::to_string(expected) +
            " bytes, found " + std::to_string(actual);
    return false;
  }
  array.bytes.assign(content.begin() + dataStart, content.end());
  return true;
}

bool attn_run::writeNpy(const std::string &path, const NpyArray &array,
                        std::string &error) {
  std::string dims;
  for (size_t i = 0; i < array.shape.size(); ++i)
    dims += (i ? ", " : "") + std::to_string(array.shape[i]);
  if (array.shape.size() == 1)
    dims += ","; // a one-element Python tuple
  std::string header = "{'descr': '" + array.descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so the data starts on a 64-byte boundary; the header ends in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    error = "cannot open for writing";
    return false;
  }
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  char lenBytes[2] = {static_cast<char>(len & 0xff),
                      static_cast<char>(len >> 8)};
  out.write(lenBytes, 2);
  out.write(header.data(), header.size());
  out.write(reinterpret_cast<const char *>(array.bytes.data()),
            array.bytes.size());
  if (!out) {
    error = "write failed";
    return false;
  }
  return true;
}

uint16_t attn_run::floatToBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000)
    return 0x7fc0;               // NaN
  u += 0x7fff + ((u >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float attn_run::bf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
