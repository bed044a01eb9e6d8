//===- attn-aot-run.cpp - runner for attn-compile output ------------------===//
//
// A small runner for the objects attn-compile writes, with attn-run's .npy
// exchange and --bench output, and no dependency on LLVM or MLIR (which is
// how GPU code reaches a machine that has no LLVM). It is built in one of
// two ways:
//
// * the installed tool loads a shared library made from one program's object
//   and header, which exports the header's entry table
//   (ATTN_EXPORT_ENTRY_TABLE):
//
//     cc -shared -fPIC -DATTN_ENTRY_TABLE -DATTN_EXPORT_ENTRY_TABLE
//        -x c OUT.h -x none OUT.o -o libOUT.so -lomp -lm        (cpu)
//     the same with libattn_cuda_runtime.a and -lcuda         (cuda)
//     attn-aot-run ./libOUT.so --arg=X.npy...
//
// * compiled together with one program's header and object, as one binary:
//
//     c++ -O2 -std=c++17 -DATTN_ENTRY_TABLE -include OUT.h
//         attn-aot-run.cpp -I dialects lib/Runner/Npy.cpp OUT.o -lomp  (cpu)
//     the same with -DATTN_CUDA, libattn_cuda_runtime.a and -lcuda    (cuda)
//
// usage: attn-aot-run [LIBRARY] [--entry=NAME] --arg=X.npy... [--out=Y.npy]...
//                     [--bench=N] [--flops=F]
// Exit 2 with one line naming the flag or file for invalid input.
//
//===----------------------------------------------------------------------===//

#include "attn/Runner/Npy.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef ATTN_ENTRY_TABLE
#include <dlfcn.h>

extern "C" {
// The entry table of attn-compile's header (HeaderWriter::entryTable).
typedef struct {
  const char *element;
  int rank;
  int64_t sizes[8];
} attn_entry_tensor;
typedef struct {
  const char *name;
  int32_t (*call)(void **args, void *results);
  int num_args;
  const attn_entry_tensor *args;
  int num_results;
  const attn_entry_tensor *results;
} attn_entry;
}
#endif

namespace {

[[noreturn]] void fail(const std::string &subject, const std::string &msg) {
  std::fprintf(stderr, "%s: %s\n", subject.c_str(), msg.c_str());
  std::exit(2);
}

void *hostAlloc(uint64_t bytes) { return std::malloc(bytes ? bytes : 1); }
void hostFree(void *ptr) { std::free(ptr); }
void noSynchronize() {}

/// The program the runner calls: its entry table and where its buffers live
/// (CUDA managed memory for cuda objects, else the C heap).
struct Program {
  const attn_entry *entries = nullptr;
  void *(*allocate)(uint64_t bytes) = hostAlloc;
  void (*release)(void *ptr) = hostFree;
  void (*synchronize)() = noSynchronize;
  /// The object's attn_last_error: why an entry point refused its arguments.
  const char *(*lastError)() = nullptr;
};

#ifdef ATTN_ENTRY_TABLE
Program compiledInProgram() {
  Program p;
  p.entries = attn_entries;
  p.lastError = attn_last_error;
#ifdef ATTN_CUDA
  p.allocate = attnCudaAlloc;
  p.release = attnCudaFree;
  p.synchronize = attnCudaSynchronize;
#endif
  return p;
}
#else
/// Loads `library`; a library linked with libattn_cuda_runtime.a brings the
/// managed-memory functions.
Program loadProgram(const std::string &library) {
  if (library.empty())
    fail("attn-aot-run", "no shared library given (see --help)");
  // dlopen searches the library path for a name without a slash.
  std::string path =
      library.find('/') == std::string::npos ? "./" + library : library;
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    fail(library, dlerror());
  Program p;
  using Table = const attn_entry *(*)();
  auto table = reinterpret_cast<Table>(dlsym(handle, "attn_aot_entries"));
  if (!table)
    fail(library, "no attn_aot_entries: build it with -DATTN_ENTRY_TABLE "
                  "-DATTN_EXPORT_ENTRY_TABLE and the program's header");
  p.entries = table();
  p.lastError =
      reinterpret_cast<const char *(*)()>(dlsym(handle, "attn_last_error"));
  void *alloc = dlsym(handle, "attnCudaAlloc");
  void *release = dlsym(handle, "attnCudaFree");
  void *synchronize = dlsym(handle, "attnCudaSynchronize");
  if (alloc && release && synchronize) {
    p.allocate = reinterpret_cast<void *(*)(uint64_t)>(alloc);
    p.release = reinterpret_cast<void (*)(void *)>(release);
    p.synchronize = reinterpret_cast<void (*)()>(synchronize);
  }
  return p;
}
#endif

/// The .npy descr an element type is exchanged as (bf16: float32).
std::string descrOf(const std::string &element) {
  if (element == "f32" || element == "bf16")
    return "<f4";
  if (element == "f16")
    return "<f2";
  if (element == "f64")
    return "<f8";
  if (element == "i32")
    return "<i4";
  if (element == "i64")
    return "<i8";
  if (element == "i1")
    return "|b1";
  return "";
}

size_t elementSize(const std::string &element) {
  if (element == "bf16" || element == "f16")
    return 2;
  if (element == "i1")
    return 1;
  if (element == "f64" || element == "i64")
    return 8;
  return 4;
}

/// A memref descriptor as words: allocated, aligned, offset, sizes,
/// strides (every field is 8 bytes on 64-bit hosts).
std::vector<int64_t> descriptor(void *data, const std::vector<int64_t> &shape) {
  std::vector<int64_t> d = {reinterpret_cast<int64_t>(data),
                            reinterpret_cast<int64_t>(data), 0};
  d.insert(d.end(), shape.begin(), shape.end());
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  d.insert(d.end(), strides.begin(), strides.end());
  return d;
}

struct Options {
  std::string library, entry;
  std::vector<std::string> args, outs;
  int64_t bench = 0;
  double flops = 0;
};

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char *flag) -> const char * {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 && a.size() > n && a[n] == '='
                 ? argv[i] + n + 1
                 : nullptr;
    };
    if (a == "--help" || a == "-h") {
#ifdef ATTN_ENTRY_TABLE
      std::printf("usage: attn-aot-run [--entry=NAME] --arg=X.npy... "
                  "[--out=Y.npy]... [--bench=N] [--flops=F]\n");
#else
      std::printf("usage: attn-aot-run LIBRARY.so [--entry=NAME] "
                  "--arg=X.npy... [--out=Y.npy]... [--bench=N] [--flops=F]\n"
                  "LIBRARY.so: attn-compile's object and header as a shared "
                  "library (docs/gpu.md)\n");
#endif
      std::exit(0);
    }
#ifndef ATTN_ENTRY_TABLE
    if (a.compare(0, 1, "-") != 0) {
      if (!o.library.empty())
        fail(a, "a second shared library (one program per run)");
      o.library = a;
      continue;
    }
#endif
    if (const char *v = value("--entry"))
      o.entry = v;
    else if (const char *v = value("--arg"))
      o.args.push_back(v);
    else if (const char *v = value("--out"))
      o.outs.push_back(v);
    else if (const char *v = value("--bench")) {
      o.bench = std::atoll(v);
      if (o.bench < 1)
        fail("--bench", "needs at least 1 iteration");
    } else if (const char *v = value("--flops"))
      o.flops = std::atof(v);
    else
      fail(a, "unknown flag");
  }
  return o;
}

/// The entry --entry names (or the only one), with the counts of --arg and
/// --out checked against it.
const attn_entry *selectEntry(const Program &program, const Options &o) {
  const attn_entry *entry = nullptr;
  int count = 0;
  for (const attn_entry *e = program.entries; e->name; ++e, ++count)
    if (o.entry.empty() || o.entry == e->name)
      entry = e;
  if (!entry)
    fail("--entry", o.entry.empty() ? "no entry in this program"
                                    : "no function named '" + o.entry + "'");
  if (o.entry.empty() && count > 1)
    fail("--entry", "the program has several functions: name one");
  if (static_cast<int>(o.args.size()) != entry->num_args)
    fail("--arg", "expected " + std::to_string(entry->num_args) +
                      " arguments, got " + std::to_string(o.args.size()));
  if (static_cast<int>(o.outs.size()) > entry->num_results)
    fail("--out", "more --out than results");
  return entry;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
#ifdef ATTN_ENTRY_TABLE
  Program program = compiledInProgram();
#else
  Program program = loadProgram(o.library);
#endif
  const attn_entry *entry = selectEntry(program, o);

  // Arguments: read, check against the signature, copy into buffers of the
  // element type (managed memory for cuda).
  std::vector<std::vector<int64_t>> argDescs;
  std::vector<void *> argPtrs;
  for (int n = 0; n < entry->num_args; ++n) {
    const attn_entry_tensor &t = entry->args[n];
    attn_run::NpyArray a;
    std::string error;
    if (!attn_run::readNpy(o.args[n], a, error))
      fail(o.args[n], error);
    std::string want = descrOf(t.element);
    bool boolAsU8 = want == "|b1" && a.descr == "|u1";
    if (want.empty())
      fail(o.args[n], std::string("unsupported element type ") + t.element);
    if (a.descr != want && !boolAsU8)
      fail(o.args[n], "dtype " + a.descr + " does not match " + t.element);
    if (static_cast<int>(a.shape.size()) != t.rank)
      fail(o.args[n], "rank " + std::to_string(a.shape.size()) +
                          " does not match the argument's rank " +
                          std::to_string(t.rank));
    for (int d = 0; d < t.rank; ++d)
      if (t.sizes[d] >= 0 && t.sizes[d] != a.shape[d])
        fail(o.args[n], "size " + std::to_string(a.shape[d]) + " of dim " +
                            std::to_string(d) + " does not match " +
                            std::to_string(t.sizes[d]));
    int64_t num = a.numElements();
    void *data = program.allocate(num * elementSize(t.element));
    if (std::string(t.element) == "bf16") {
      auto *dst = static_cast<uint16_t *>(data);
      for (int64_t i = 0; i < num; ++i) {
        float x;
        std::memcpy(&x, a.bytes.data() + 4 * i, 4);
        dst[i] = attn_run::floatToBF16(x);
      }
    } else {
      if (!a.bytes.empty())
        std::memcpy(data, a.bytes.data(), a.bytes.size());
    }
    argPtrs.push_back(data);
    argDescs.push_back(descriptor(data, a.shape));
  }
  std::vector<void *> args;
  for (auto &d : argDescs)
    args.push_back(d.data());

  // Results: a struct of descriptors (one descriptor for one result).
  size_t resultWords = 0;
  for (int r = 0; r < entry->num_results; ++r) {
    if (descrOf(entry->results[r].element).empty())
      fail(entry->name, std::string("result #") + std::to_string(r) +
                            " has an unsupported element type " +
                            entry->results[r].element);
    resultWords += 3 + 2 * entry->results[r].rank;
  }
  std::vector<int64_t> results(resultWords + 1);
  auto call = [&] {
    // The entry point checks the arguments as attn-run does.
    if (int32_t status = entry->call(args.data(), results.data())) {
      // The message names the entry point: attn_NAME: ...
      std::fprintf(stderr, "%s\n",
                   program.lastError
                       ? program.lastError()
                       : ("status " + std::to_string(status)).c_str());
      std::exit(2);
    }
    program.synchronize();
  };
  // Results own fresh buffers unless they alias an argument; several may
  // share one buffer: free each fresh one once.
  auto freeResults = [&] {
    std::vector<void *> freed(argPtrs);
    size_t w = 0;
    for (int r = 0; r < entry->num_results; ++r) {
      void *buffer = reinterpret_cast<void *>(results[w]);
      if (std::find(freed.begin(), freed.end(), buffer) == freed.end()) {
        program.release(buffer);
        freed.push_back(buffer);
      }
      w += 3 + 2 * entry->results[r].rank;
    }
  };

  if (o.bench > 0) {
    call(); // warm-up: module load, page faults
    freeResults();
    std::vector<double> ms;
    for (int64_t i = 0; i < o.bench; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      call();
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      freeResults();
    }
    std::sort(ms.begin(), ms.end());
    double median = ms.size() % 2
                        ? ms[ms.size() / 2]
                        : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    std::printf("median_ms=%.4f gflops=%.3f\n", median,
                o.flops > 0 ? o.flops / (median * 1e6) : 0.0);
  }

  call();
  size_t w = 0;
  for (int r = 0; r < entry->num_results; ++r) {
    const attn_entry_tensor &t = entry->results[r];
    if (r < static_cast<int>(o.outs.size())) {
      const char *aligned = reinterpret_cast<const char *>(results[w + 1]);
      int64_t offset = results[w + 2];
      attn_run::NpyArray a;
      a.descr = descrOf(t.element);
      int64_t num = 1;
      for (int d = 0; d < t.rank; ++d) {
        a.shape.push_back(results[w + 3 + d]);
        num *= results[w + 3 + d];
      }
      size_t size = elementSize(t.element);
      const char *src = aligned + offset * size; // results are contiguous
      if (std::string(t.element) == "bf16") {
        a.bytes.resize(4 * num);
        for (int64_t i = 0; i < num; ++i) {
          uint16_t x;
          std::memcpy(&x, src + 2 * i, 2);
          float f = attn_run::bf16ToFloat(x);
          std::memcpy(a.bytes.data() + 4 * i, &f, 4);
        }
      } else {
        a.bytes.assign(src, src + num * size);
      }
      std::string error;
      if (!attn_run::writeNpy(o.outs[r], a, error))
        fail(o.outs[r], error);
    }
    w += 3 + 2 * t.rank;
  }
  freeResults();
  for (void *p : argPtrs)
    program.release(p);
  return 0;
}
