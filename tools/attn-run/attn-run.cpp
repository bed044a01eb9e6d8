//===- attn-run.cpp - compile and run an attn function --------------------===//
//
// attn-run FILE.mlir [--entry=NAME] [--pipeline=cpu|naive|reference]
//          [--arg=X.npy ...] [--random-args [--seed=N]] [--out=Y.npy ...]
//          [--check] [--bench=N] [--threads=N] [--device=cpu|cuda]
//          [--grad [--fd-check=N]]
//
// Exit codes: 0 success, 1 --check outside tolerance, 2 invalid program or
// input (the first stderr line names the file or flag and the problem), 3
// out of memory, 4 internal error (a crash); each failure is one line.
//
//===----------------------------------------------------------------------===//

#include "attn/Kernel/CpuTarget.h"
#include "attn/Runner/HostTensor.h"
#include "attn/Runner/InputValidation.h"
#include "attn/Runner/Npy.h"
#include "attn/Runner/ToolSupport.h"

#include "attn/Conversion/Passes.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/AttnShapes.h"
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Reference/FiniteDifferences.h"
#include "attn/Reference/Gradient.h"
#include "attn/Reference/Interpreter.h"
#include "attn/Transforms/Grad.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#ifdef ATTN_HAVE_MPI
#include <mpi.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <iterator>
#include <malloc.h>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

using namespace mlir;
using namespace attn_run;

namespace {

struct Options {
  std::string file;
  std::string entry;
  std::string pipeline = "cpu";
  std::vector<std::string> args;
  std::vector<std::string> outs;
  bool randomArgs = false;
  uint64_t seed = 0;
  bool check = false;
  int64_t bench = 0;
  int64_t threads = 0; // 0: every hardware thread
  std::string device = "cpu";
  std::string cpuOptions; // options of attn-to-llvm, e.g. "tile-q=128"
  // --mcpu/--mattr: the CPU the code is generated for ("native": this one).
  std::string cpu = "native";
  std::string features;
  // --print-config: the target and the tiled form's kernel shapes.
  bool printConfig = false;
  std::string gpuOptions; // attn-to-nvvm options (gpu-emulated)
  // Functions timed alternately with the entry (--bench-with).
  std::vector<std::string> benchWith;
  // --grad: run the gradient of the entry; --fd-check=N: compare it with N
  // finite differences.
  bool grad = false;
  int64_t fdCheck = 0;
  // --sequence-parallel=ring: run under mpirun, one shard per rank.
  std::string sequenceParallel = "none";
  std::string layout = "zigzag";
  // Test only: this rank fails just before the ring (--test-fail-rank).
  int64_t failRank = -1;
};

using attn_tools::fail;
using attn_tools::failInFile;

/// The most OpenMP threads --threads accepts (beyond it the OpenMP runtime
/// aborts when it cannot create them).
constexpr int64_t kMaxThreads = 1024;

bool parseInt(const std::string &s, int64_t &v) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos ||
      s.size() > 18)
    return false;
  v = std::stoll(s);
  return true;
}

namespace cl = llvm::cl;

cl::OptionCategory category("attn-run options");

/// The flags, registered when first needed: a flag whose name libLLVM or
/// libMLIR registered first (libMLIR's hidden `threads`) takes the name, and
/// the library's option answers to --llvm-NAME instead.
struct Flags {
  cl::opt<std::string> fileFlag{cl::Positional, cl::desc("<FILE.mlir | ->"),
                                cl::cat(category)};
  cl::opt<std::string> entryFlag{
      "entry",
      cl::desc("Function to run (default: the only public function "
               "with a body)"),
      cl::value_desc("NAME"), cl::cat(category)};
  cl::opt<std::string> pipelineFlag{
      "pipeline",
      cl::desc("How to run it: cpu (attn-to-llvm, the default), "
               "naive (attn-naive-to-llvm), reference (the f64 "
               "interpreter), gpu-emulated (the GPU kernels on CPU "
               "threads)"),
      cl::value_desc("cpu|naive|reference|gpu-emulated"), cl::init("cpu"),
      cl::cat(category)};
  cl::list<std::string> argFlags{
      "arg",
      cl::desc("An argument as a .npy file, once per argument in order "
               "(with --grad: then one per cotangent)"),
      cl::value_desc("X.npy"), cl::cat(category)};
  cl::list<std::string> outFlags{
      "out", cl::desc("Where to write a result, once per result"),
      cl::value_desc("Y.npy"), cl::cat(category)};
  cl::opt<bool> randomArgsFlag{
      "random-args", cl::desc("Draw every argument (seeded by --seed)"),
      cl::cat(category)};
  cl::opt<std::string> seedFlag{"seed", cl::desc("Seed of --random-args"),
                                cl::value_desc("N"), cl::cat(category)};
  cl::opt<bool> checkFlag{
      "check",
      cl::desc("Compare the results with the reference interpreter "
               "(exit 1 outside tolerance)"),
      cl::cat(category)};
  cl::opt<std::string> benchFlag{"bench",
                                 cl::desc("Time N calls; print the median"),
                                 cl::value_desc("N"), cl::cat(category)};
  cl::opt<std::string> threadsFlag{
      "threads",
      cl::desc("OpenMP threads (1 to 1024; default: every hardware "
               "thread)"),
      cl::value_desc("N"), cl::cat(category)};
  cl::list<std::string> benchWithFlags{
      "bench-with",
      cl::desc("Another function timed alternately with the entry (needs "
               "--bench and --random-args)"),
      cl::value_desc("NAME"), cl::cat(category)};
  cl::opt<std::string> cpuOptionsFlag{
      "cpu-options",
      cl::desc("attn-to-llvm options, e.g. 'tile-q=64 tile-kv=64'"),
      cl::value_desc("options"), cl::cat(category)};
  cl::opt<std::string> gpuOptionsFlag{
      "gpu-options",
      cl::desc("attn-to-nvvm options for gpu-emulated, e.g. 'block-q=32'"),
      cl::value_desc("options"), cl::cat(category)};
  cl::opt<bool> gradFlag{
      "grad",
      cl::desc("Run the entry's gradient @F_grad (attn-grad): --arg "
               "for F's arguments, then one per cotangent"),
      cl::cat(category)};
  cl::opt<std::string> fdCheckFlag{
      "fd-check",
      cl::desc("With --grad: compare the reference gradient with N "
               "central finite differences"),
      cl::value_desc("N"), cl::cat(category)};
  cl::opt<std::string> sequenceParallelFlag{
      "sequence-parallel",
      cl::desc("none; ring: under mpirun, every fused attention runs "
               "across the ranks (the program is written for one rank's "
               "shard; --arg files and --out files are global); decode: "
               "keys and values sharded, queries replicated"),
      cl::value_desc("none|ring|decode"), cl::init("none"), cl::cat(category)};
  cl::opt<std::string> layoutFlag{
      "layout",
      cl::desc("With --sequence-parallel=ring: zigzag (default; rank r "
               "holds chunks r and 2P-1-r of 2P) or contiguous"),
      cl::value_desc("zigzag|contiguous"), cl::init("zigzag"),
      cl::cat(category)};
  cl::opt<std::string> testFailRankFlag{
      "test-fail-rank",
      cl::desc("Test only: this rank fails before the ring starts"),
      cl::value_desc("N"), cl::Hidden, cl::cat(category)};
  cl::opt<std::string> cpuFlag{
      "mcpu",
      cl::desc("CPU the code is generated for, as LLVM names it (haswell, "
               "znver3, ...); the cost model follows it. Default native: "
               "this machine. It must run here: a CPU with features this "
               "machine lacks is refused"),
      cl::value_desc("CPU"), cl::init("native"), cl::cat(category)};
  cl::opt<std::string> featuresFlag{
      "mattr", cl::desc("Features added to or removed from the CPU's"),
      cl::value_desc("+f,-g"), cl::cat(category)};
  cl::opt<bool> printConfigFlag{
      "print-config",
      cl::desc("Print the target the code is generated for and, per fused "
               "attention, the tiled form's kernel shape (vector width, "
               "tiles, register blocking, key splits) the cost model chose"),
      cl::cat(category)};
  cl::opt<std::string> deviceFlag{"device",
                                  cl::desc("cpu (cuda: use attn-compile and "
                                           "attn-aot-run)"),
                                  cl::value_desc("cpu|cuda"), cl::init("cpu"),
                                  cl::cat(category)};
};

const Flags &flags() {
  static const Flags *instance = [] {
    static std::vector<std::string> renamed;
    renamed.reserve(32); // the names must not move: options keep StringRefs
    auto &registered = cl::getRegisteredOptions();
    for (const char *name :
         {"entry",       "pipeline",       "arg",         "out",
          "random-args", "seed",           "check",       "bench",
          "threads",     "bench-with",     "cpu-options", "gpu-options",
          "grad",        "fd-check",       "device",      "sequence-parallel",
          "layout",      "test-fail-rank", "mcpu",        "mattr",
          "print-config"})
      if (cl::Option *clash = registered.lookup(name)) {
        renamed.push_back(std::string("llvm-") + name);
        clash->setArgStr(renamed.back());
      }
    return new Flags();
  }();
  return *instance;
}

/// llvm::cl parses `--flag=value` and `--flag value` alike and passes MLIR's
/// --mlir-* options to the context and pass managers; the values are
/// checked here, each error one line naming the flag, exit 2.
Options parseOptions(int argc, char **argv) {
  const Flags &f = flags();
  // --mlir-print-ir-after=PASS names our passes too.
  attn::registerAllPasses();
  attn_tools::parseCommandLine(argc, argv, category,
                               "attn runner: attn-run FILE.mlir [flags] "
                               "compiles a program, runs it and checks or "
                               "times it");
  auto intValue = [&](const char *flag, const std::string &v) {
    int64_t n;
    if (!parseInt(v, n))
      fail(flag, "expects a non-negative integer, got '" + v + "'");
    return n;
  };
  auto nonEmpty = [&](const char *flag, const std::string &v) {
    if (v.empty())
      fail(flag, std::string("expects a value (") + flag + "=...)");
    return v;
  };
  Options o;
  o.file = f.fileFlag;
  if (f.entryFlag.getNumOccurrences())
    o.entry = nonEmpty("--entry", f.entryFlag);
  o.pipeline = f.pipelineFlag;
  if (o.pipeline != "cpu" && o.pipeline != "naive" &&
      o.pipeline != "reference" && o.pipeline != "gpu-emulated")
    fail("--pipeline", "unknown pipeline '" + o.pipeline +
                           "' (expected cpu, naive, reference or "
                           "gpu-emulated)");
  for (const std::string &v : f.argFlags)
    o.args.push_back(nonEmpty("--arg", v));
  for (const std::string &v : f.outFlags)
    o.outs.push_back(nonEmpty("--out", v));
  for (const std::string &v : f.benchWithFlags)
    o.benchWith.push_back(nonEmpty("--bench-with", v));
  o.randomArgs = f.randomArgsFlag;
  o.check = f.checkFlag;
  o.grad = f.gradFlag;
  o.cpuOptions = f.cpuOptionsFlag;
  o.gpuOptions = f.gpuOptionsFlag;
  o.printConfig = f.printConfigFlag;
  o.cpu = nonEmpty("--mcpu", f.cpuFlag);
  o.features = f.featuresFlag;
  if (o.cpu != "native" || !o.features.empty()) {
    std::string cpu = o.cpu == "native" ? attn::getHostCpu().first : o.cpu;
    FailureOr<std::vector<std::string>> missing =
        attn_tools::featuresMissingOnHost(cpu, o.features);
    if (failed(missing)) {
      if (failed(attn::getCpuTarget(cpu, "")))
        fail("--mcpu",
             "unknown CPU '" + cpu +
                 "' (an x86 CPU as LLVM names "
                 "it: haswell, skylake-avx512, znver3, x86-64-v3, ...)");
      fail("--mattr", "expects features as +name or -name, comma-separated, "
                      "got '" +
                          o.features + "'");
    }
    if (!missing->empty())
      fail(o.cpu == "native" ? "--mattr" : "--mcpu",
           "the code would use " + llvm::join(*missing, ", ") +
               ", which this machine lacks (attn-run runs what it compiles; "
               "attn-compile builds for other machines)");
  }
  if (f.seedFlag.getNumOccurrences())
    o.seed = intValue("--seed", f.seedFlag);
  if (f.benchFlag.getNumOccurrences() &&
      (o.bench = intValue("--bench", f.benchFlag)) < 1)
    fail("--bench", "needs at least 1 iteration");
  if (f.threadsFlag.getNumOccurrences()) {
    o.threads = intValue("--threads", f.threadsFlag);
    if (o.threads < 1 || o.threads > kMaxThreads)
      fail("--threads", "expects 1 to " + std::to_string(kMaxThreads) +
                            " threads, got " + f.threadsFlag);
  }
  if (f.fdCheckFlag.getNumOccurrences() &&
      (o.fdCheck = intValue("--fd-check", f.fdCheckFlag)) < 1)
    fail("--fd-check", "needs at least 1 sample");
  o.sequenceParallel = f.sequenceParallelFlag;
  if (o.sequenceParallel != "none" && o.sequenceParallel != "ring" &&
      o.sequenceParallel != "decode")
    fail("--sequence-parallel", "unknown mode '" + o.sequenceParallel +
                                    "' (expected none, ring or decode)");
  o.layout = f.layoutFlag;
  if (o.layout != "zigzag" && o.layout != "contiguous")
    fail("--layout",
         "unknown layout '" + o.layout + "' (expected zigzag or contiguous)");
  if (f.layoutFlag.getNumOccurrences() && o.sequenceParallel != "ring")
    fail("--layout", "needs --sequence-parallel=ring (decode shards the "
                     "keys contiguously)");
  if (o.sequenceParallel == "decode")
    o.layout = "contiguous";
  if (f.testFailRankFlag.getNumOccurrences())
    o.failRank = intValue("--test-fail-rank", f.testFailRankFlag);
  if (o.sequenceParallel != "none") {
    if (o.pipeline != "cpu")
      fail("--sequence-parallel", "the ring runs the cpu pipeline, got "
                                  "--pipeline=" +
                                      o.pipeline);
    if (o.grad && o.sequenceParallel == "decode")
      fail("--grad", "decoding across ranks runs the forward only (use "
                     "--sequence-parallel=ring)");
    if (o.fdCheck)
      fail("--fd-check", "cannot be combined with --sequence-parallel (run "
                         "it on one process)");
    if (!o.benchWith.empty())
      fail("--bench-with", "cannot be combined with --sequence-parallel");
  }
  o.device = f.deviceFlag;
  if (o.device != "cpu" && o.device != "cuda")
    fail("--device",
         "unknown device '" + o.device + "' (expected cpu or cuda)");
  if (o.file.empty())
    fail("attn-run", "no input file (usage: attn-run FILE.mlir [flags])");
  if (o.randomArgs && !o.args.empty())
    fail("--random-args", "cannot be combined with --arg");
  if (o.bench && o.pipeline == "reference")
    fail("--bench", "cannot time the reference interpreter (use --pipeline=cpu "
                    "or naive)");
  if (!o.benchWith.empty() && (!o.bench || !o.randomArgs))
    fail("--bench-with", "needs --bench=N and --random-args");
  if (o.fdCheck && !o.grad)
    fail("--fd-check", "needs --grad");
  if (o.grad && !o.benchWith.empty())
    fail("--bench-with", "cannot be combined with --grad");
  if (o.device == "cuda")
    fail("--device=cuda",
         "attn-run does not run GPU code: compile with attn-compile "
         "--target=cuda and run with attn-aot-run (docs/gpu.md)");
  return o;
}

//===----------------------------------------------------------------------===//
// Arguments
//===----------------------------------------------------------------------===//

/// Random data for argument `index`, aware of the mask role it plays so that
/// structured operands (CSR, indices, segment ids) are valid.
HostTensor randomArgument(func::FuncOp func, unsigned index,
                          RankedTensorType type, std::mt19937_64 &rng) {
  HostTensor t;
  t.elementType = type.getElementType();
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  t.storage.assign(t.numElements() * t.elementSize(), 0);
  // The role of this argument in a mask, if any.
  std::optional<MaskRole> role;
  std::optional<MaskSite> roleSite;
  if (auto found = argumentMaskRole(func, index)) {
    role = found->first;
    roleSite = found->second;
  }
  auto siteDim = [&](bool keys) {
    Value v = keys ? roleSite->keys : roleSite->queries;
    return cast<RankedTensorType>(v.getType())
        .getDimSize(keys ? roleSite->kDim : roleSite->qDim);
  };
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  int64_t n = t.numElements();
  if (role && isa<attn::CsrAttr>(role->pattern)) {
    int64_t sq = siteDim(false), skv = siteDim(true);
    if (ShapedType::isDynamic(sq) || ShapedType::isDynamic(skv))
      fail("--random-args", "cannot generate CSR data for scores of dynamic "
                            "shape; pass --arg files");
    int64_t nnz =
        cast<RankedTensorType>(roleSite->operands[role->first + 1].getType())
            .getDimSize(0);
    // Row pointers and columns draw the same adjacency from a fixed seed.
    std::mt19937_64 local(42 + nnz);
    std::vector<int64_t> cells(sq * skv);
    for (int64_t c = 0; c < sq * skv; ++c)
      cells[c] = c;
    std::shuffle(cells.begin(), cells.end(), local);
    cells.resize(std::min<int64_t>(nnz, sq * skv));
    std::sort(cells.begin(), cells.end());
    if (role->position == 0) {
      int64_t p = 0;
      for (int64_t r = 0; r <= sq; ++r) {
        while (p < (int64_t)cells.size() && cells[p] / skv < r)
          ++p;
        t.set(r, p);
      }
    } else {
      for (int64_t c = 0; c < n; ++c)
        t.set(c, c < (int64_t)cells.size() ? cells[c] % skv : 0);
    }
    return t;
  }
  if (role && isa<attn::IndicesAttr>(role->pattern)) {
    int64_t skv = siteDim(true);
    if (ShapedType::isDynamic(skv))
      fail("--random-args", "cannot generate #attn.indices data for scores "
                            "of dynamic shape; pass --arg files");
    std::uniform_int_distribution<int64_t> pick(-1, skv - 1);
    for (int64_t i = 0; i < n; ++i)
      t.set(i, pick(rng));
    return t;
  }
  if (role && isa<attn::SegmentsAttr>(role->pattern)) {
    // Packed documents: non-decreasing ids along the sequence.
    int64_t len = t.shape.back();
    std::uniform_int_distribution<int> step(0, 7);
    for (int64_t row = 0; row < n / std::max<int64_t>(len, 1); ++row) {
      int64_t id = 0;
      for (int64_t i = 0; i < len; ++i) {
        if (i > 0 && step(rng) == 0)
          ++id;
        t.set(row * len + i, id);
      }
    }
    return t;
  }
  Type elt = t.elementType;
  if (elt.isInteger(1)) {
    std::bernoulli_distribution coin(0.75);
    for (int64_t i = 0; i < n; ++i)
      t.set(i, coin(rng));
  } else if (isa<IntegerType>(elt) || elt.isIndex()) {
    std::uniform_int_distribution<int64_t> small(0, 3);
    for (int64_t i = 0; i < n; ++i)
      t.set(i, small(rng));
  } else {
    for (int64_t i = 0; i < n; ++i)
      t.set(i, uniform(rng));
  }
  return t;
}

//===----------------------------------------------------------------------===//
// JIT execution
//===----------------------------------------------------------------------===//

/// A ranked memref descriptor: {allocated, aligned, offset, sizes, strides}.
std::vector<int64_t> makeDescriptor(HostTensor &t) {
  std::vector<int64_t> d;
  auto ptr = reinterpret_cast<int64_t>(t.storage.data());
  d.push_back(ptr);
  d.push_back(ptr);
  d.push_back(0);
  for (int64_t s : t.shape)
    d.push_back(s);
  int64_t stride = 1;
  std::vector<int64_t> strides(t.shape.size());
  for (int64_t i = (int64_t)t.shape.size() - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= t.shape[i];
  }
  d.insert(d.end(), strides.begin(), strides.end());
  return d;
}

class CompiledFunction {
public:
  CompiledFunction(std::unique_ptr<ExecutionEngine> engine, std::string name,
                   SmallVector<RankedTensorType> resultTypes)
      : engine(std::move(engine)), name(std::move(name)),
        resultTypes(std::move(resultTypes)) {}

  /// Runs the function; copies the results out and frees their buffers.
  /// Runs the function; copies the results out (unless `results` is null,
  /// as when timing) and frees their buffers.
  llvm::Error run(std::vector<HostTensor> &args,
                  std::vector<HostTensor> *results) {
    std::vector<std::vector<int64_t>> descs;
    std::set<int64_t> argBuffers;
    for (HostTensor &a : args) {
      descs.push_back(makeDescriptor(a));
      argBuffers.insert(descs.back()[0]);
    }
    size_t resultWords = 0;
    for (RankedTensorType t : resultTypes)
      resultWords += 3 + 2 * t.getRank();
    std::vector<int64_t> resultBuf(std::max<size_t>(resultWords, 1));
    void *resultPtr = resultBuf.data();
    std::vector<void *> descPtrs;
    for (auto &d : descs)
      descPtrs.push_back(d.data());
    SmallVector<void *> packed;
    if (!resultTypes.empty())
      packed.push_back(&resultPtr);
    for (void *&p : descPtrs)
      packed.push_back(&p);
    attn_tools::setPhase("running the compiled code");
    if (llvm::Error err = engine->invokePacked("_mlir_ciface_" + name, packed))
      return err;
    attn_tools::setPhase("reading the results");
    if (results)
      results->clear();
    std::set<int64_t> toFree;
    size_t w = 0;
    for (RankedTensorType t : resultTypes) {
      int64_t rank = t.getRank();
      int64_t allocated = resultBuf[w];
      if (results)
        results->push_back(copyOut(t, &resultBuf[w]));
      // Results own fresh buffers unless they alias an argument; several
      // results may share one buffer, so free only after every copy.
      if (!argBuffers.count(allocated))
        toFree.insert(allocated);
      w += 3 + 2 * rank;
    }
    for (int64_t buffer : toFree)
      std::free(reinterpret_cast<void *>(buffer));
    return llvm::Error::success();
  }

private:
  /// Copies the memref described by `desc` into a dense host tensor.
  static HostTensor copyOut(RankedTensorType t, const int64_t *desc) {
    int64_t rank = t.getRank();
    HostTensor r;
    r.elementType = t.getElementType();
    r.shape.assign(desc + 3, desc + 3 + rank);
    const int64_t *strides = desc + 3 + rank;
    size_t es = r.elementSize();
    int64_t n = r.numElements();
    r.storage.assign(n * es, 0);
    const uint8_t *base =
        reinterpret_cast<const uint8_t *>(desc[1]) + desc[2] * es;
    bool contiguous = true;
    for (int64_t d = rank - 1, expected = 1; d >= 0; --d) {
      contiguous &= r.shape[d] == 1 || strides[d] == expected;
      expected *= r.shape[d];
    }
    if (contiguous) {
      // An empty result may have null pointers on both sides.
      if (n > 0)
        std::memcpy(r.storage.data(), base, n * es);
      return r;
    }
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, pos = 0;
      for (int64_t d = rank - 1; d >= 0; --d) {
        pos += (rem % r.shape[d]) * strides[d];
        rem /= r.shape[d];
      }
      std::memcpy(r.storage.data() + i * es, base + pos * es, es);
    }
    return r;
  }

  std::unique_ptr<ExecutionEngine> engine;
  std::string name;
  SmallVector<RankedTensorType> resultTypes;
};

/// --print-config: the target of `options` and the kernel shape the tiled
/// form's cost model picks for each fused attention (attn-test-tile-config).
void printTileConfigs(ModuleOp module, const attn::ToLLVMOptions &options,
                      const attn_tools::FirstError &firstError) {
  std::string cpu = options.targetCpu;
  FailureOr<attn::CpuTarget> target =
      attn::getCpuTarget(cpu, options.targetFeatures);
  llvm::outs() << "target: cpu=" << (cpu.empty() ? "x86-64-v3" : cpu)
               << " vector-width="
               << (succeeded(target) ? target->vectorWidth : 0) << "\n";
  OwningOpRef<ModuleOp> fused = module.clone();
  PassManager pm(module.getContext());
  pm.addPass(attn::createAttnFuse());
  attn::AttnTestTileConfigOptions config;
  config.tileQ = options.tileQ;
  config.tileKV = options.tileKV;
  config.vectorWidth = options.vectorWidth;
  config.kvSplits = options.kvSplits;
  config.targetCpu = options.targetCpu;
  config.targetFeatures = options.targetFeatures;
  pm.addPass(attn::createAttnTestTileConfig(config));
  if (failed(pm.run(*fused)))
    fail("--print-config", "the cost model failed" + firstError.suffix());
  llvm::outs().flush();
}

/// The CPU and features the code is generated for: --mcpu's (this
/// machine's CPU and features for native), with --mattr's changes.
std::pair<std::string, std::string> selectedCpu(const Options &o) {
  std::string cpu = o.cpu, features;
  if (o.cpu == "native")
    std::tie(cpu, features) = attn::getHostCpu();
  if (!o.features.empty())
    features = features.empty() ? o.features : features + "," + o.features;
  return {cpu, features};
}

/// attn-to-llvm's target-cpu and target-features for the selected CPU; a
/// host CPU the cost model does not know is left to its features (as
/// hostTargetOptions does).
std::pair<std::string, std::string> costModelTarget(const Options &o) {
  auto target = selectedCpu(o);
  if (failed(attn::getCpuTarget(target.first, "")))
    target.first.clear();
  return target;
}

std::unique_ptr<CompiledFunction>
compile(ModuleOp module, func::FuncOp func, const Options &o,
        const attn_tools::FirstError &firstError) {
  std::string name = func.getName().str();
  SmallVector<RankedTensorType> resultTypes;
  for (Type t : func.getResultTypes())
    resultTypes.push_back(cast<RankedTensorType>(t));
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(module.getContext()));
  PassManager pm(module.getContext());
  if (o.pipeline == "naive") {
    attn::buildNaiveToLLVMPipeline(pm, attn::NaiveToLLVMOptions());
  } else if (o.pipeline == "gpu-emulated") {
    auto options = attn_tools::parsePipelineOptions<attn::ToNVVMOptions>(
        "--gpu-options", "attn-to-nvvm", o.gpuOptions);
    attn::buildGpuEmulationPipeline(pm, *options);
  } else {
    auto options = attn_tools::parsePipelineOptions<attn::ToLLVMOptions>(
        "--cpu-options", "attn-to-llvm", o.cpuOptions);
    if (std::string error = attn::checkToLLVMOptions(*options); !error.empty())
      fail("--cpu-options", error);
    if (o.sequenceParallel != "none") {
      options->sequenceParallel = o.sequenceParallel;
      options->layout = o.layout;
    }
    // The cost model follows the CPU the code is for (--mcpu, this machine
    // by default) unless the options name one.
    if (options->targetCpu.empty() && options->targetFeatures.empty()) {
      std::tie(options->targetCpu, options->targetFeatures) =
          costModelTarget(o);
    } else if (o.cpu != "native" || !o.features.empty()) {
      fail("--mcpu", "conflicts with --cpu-options target-cpu/target-features "
                     "(give the CPU one way)");
    }
    if (o.printConfig)
      printTileConfigs(module, *options, firstError);
    attn::buildToLLVMPipeline(pm, *options);
  }
  // --mlir-timing, --mlir-print-ir-after-all, ... (llvm::cl).
  attn_tools::applyMLIROptions(pm, "attn-run");
  attn_tools::setPhase("lowering");
  if (failed(pm.run(module)))
    fail(o.file, "lowering through the " + o.pipeline + " pipeline failed" +
                     firstError.suffix());
  ExecutionEngineOptions eo;
  // The OpenMP runtime of the parallel loops, and MLIR's C runner utilities
  // (memrefCopy for copies of strided buffers).
  SmallVector<StringRef> libs;
  for (StringRef lib : {ATTN_OPENMP_RUNTIME, ATTN_C_RUNNER_UTILS})
    if (llvm::sys::fs::exists(lib))
      libs.push_back(lib);
  eo.sharedLibPaths = libs;
  // Code for the CPU of --mcpu/--mattr (this machine by default). Tell LLVM
  // it may use the target's full vector width: x86 backends that prefer
  // 256-bit vectors otherwise split the 512-bit vector ops.
  auto optimize = makeOptimizingTransformer(3, 0, nullptr);
  std::string cpu, features;
  std::tie(cpu, features) = selectedCpu(o);
  FailureOr<attn::CpuTarget> target = attn::getCpuTarget(cpu, features);
  std::string width =
      std::to_string(32 * (succeeded(target) ? target->vectorWidth : 16));
  auto transformer = [&](llvm::Module *m) -> llvm::Error {
    for (llvm::Function &f : *m) {
      if (f.isDeclaration())
        continue;
      f.addFnAttr("target-cpu", cpu);
      f.addFnAttr("target-features", features);
      f.addFnAttr("prefer-vector-width", width);
      f.addFnAttr("min-legal-vector-width", width);
    }
    return optimize(m);
  };
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  attn_tools::setPhase("JIT compilation");
  auto engine = ExecutionEngine::create(module, eo);
  if (!engine)
    fail(o.file,
         "JIT compilation failed: " + llvm::toString(engine.takeError()));
  return std::make_unique<CompiledFunction>(std::move(*engine), name,
                                            resultTypes);
}

//===----------------------------------------------------------------------===//
// Checking and benchmarking
//===----------------------------------------------------------------------===//

struct Tolerance {
  double atol, rtol;
};

/// Documented tolerances (docs/attn-run.md): by the element type of the
/// compiled result; integer and boolean results must match exactly.
Tolerance toleranceFor(Type t) {
  if (t.isF32() || t.isF64())
    return {1e-4, 1e-4};
  if (t.isF16())
    return {2e-3, 2e-3};
  if (t.isBF16())
    return {1e-2, 1e-2};
  return {0.0, 0.0};
}

/// Per result of `func`, the absolute tolerance that α-entmax with α > 2
/// needs (0 where no such op computes it): a weight at the support's edge is
/// t^(1/(α-1)) with t -> 0, so an f32 rounding δ of the scores moves it by up
/// to δ^(1/(α-1)) in every pipeline (docs/attn-run.md). δ = 2^-20 covers a
/// score's f32 dot product.
SmallVector<double> entmaxAbsoluteTolerances(func::FuncOp func) {
  SmallVector<double> atol;
  auto ret = cast<func::ReturnOp>(func.getBody().back().getTerminator());
  for (Value result : ret.getOperands()) {
    double alpha = 0;
    SetVector<Operation *> slice;
    BackwardSliceOptions options;
    options.omitUsesFromAbove = false;
    if (Operation *def = result.getDefiningOp()) {
      (void)getBackwardSlice(def, &slice, options);
      slice.insert(def);
    }
    for (Operation *op : slice)
      if (auto a = op->getAttrOfType<FloatAttr>("alpha");
          a && isa<attn::AttnDialect>(op->getDialect()))
        alpha = std::max(alpha, a.getValueAsDouble());
    atol.push_back(alpha > 2 ? std::pow(std::ldexp(1.0, -20), 1 / (alpha - 1))
                             : 0.0);
  }
  return atol;
}

/// Compares results; prints max_abs_err/max_rel_err. Returns true if within
/// tolerance (`minAtol`: per result, a lower bound of its atol if it is a
/// float).
bool compareResults(ArrayRef<HostTensor> actual,
                    ArrayRef<attn::reference::Tensor> expected,
                    ArrayRef<double> minAtol) {
  // max_rel_err is normwise: max |actual - expected| / max |expected|.
  double maxAbs = 0, maxRef = 0;
  bool ok = actual.size() == expected.size();
  for (size_t r = 0; r < actual.size() && r < expected.size(); ++r) {
    const HostTensor &a = actual[r];
    const attn::reference::Tensor &e = expected[r];
    if (a.numElements() != e.numElements() ||
        !std::equal(a.shape.begin(), a.shape.end(), e.shape.begin(),
                    e.shape.end())) {
      llvm::errs() << "result #" << r << ": shape "
                   << attn::formatShape(
                          SmallVector<int64_t>(a.shape.begin(), a.shape.end()))
                   << " differs from the reference's "
                   << attn::formatShape(e.shape) << "\n";
      ok = false;
      continue;
    }
    Tolerance tol = toleranceFor(a.elementType);
    if (tol.atol > 0 && r < minAtol.size())
      tol.atol = std::max(tol.atol, minAtol[r]);
    int64_t bad = 0, firstBad = -1;
    for (int64_t i = 0, n = a.numElements(); i < n; ++i) {
      double x = a.get(i), y = e.data[i];
      double abs;
      if (std::isnan(x) || std::isnan(y))
        abs = (std::isnan(x) && std::isnan(y))
                  ? 0
                  : std::numeric_limits<double>::infinity();
      else if (std::isinf(x) || std::isinf(y))
        abs = x == y ? 0 : std::numeric_limits<double>::infinity();
      else
        abs = std::fabs(x - y);
      maxAbs = std::max(maxAbs, abs);
      if (std::isfinite(y))
        maxRef = std::max(maxRef, std::fabs(y));
      if (!(abs <=
            tol.atol + tol.rtol * (std::isfinite(y) ? std::fabs(y) : 0))) {
        if (firstBad < 0)
          firstBad = i;
        ++bad;
      }
    }
    if (bad) {
      llvm::errs() << "result #" << r << ": " << bad
                   << " element(s) outside tolerance (atol=" << tol.atol
                   << ", rtol=" << tol.rtol << "); first at flat index "
                   << firstBad << ": got " << a.get(firstBad) << ", expected "
                   << e.data[firstBad] << "\n";
      ok = false;
    }
  }
  double maxRel = maxRef > 0 ? maxAbs / maxRef : maxAbs;
  llvm::outs() << llvm::format("max_abs_err=%.3e max_rel_err=%.3e\n", maxAbs,
                               maxRel);
  return ok;
}

/// Nominal FLOPs of the score and aggregation contractions (masked pairs
/// included), from the propagated concrete shapes.
double countFlops(func::FuncOp func, const KnownShapes &known) {
  // Sizes from the propagated shapes, else from the static type; 0 where a
  // size is unknown (the op then counts nothing).
  auto dim = [&](Value v, unsigned d) -> double {
    attn::Shape s = known.lookup(v);
    int64_t n =
        s.size() > d ? s[d] : cast<RankedTensorType>(v.getType()).getDimSize(d);
    return ShapedType::isDynamic(n) ? 0 : n;
  };
  auto pairs = [&](Value q, Value k, unsigned qDim, unsigned kDim) {
    return dim(q, 0) * dim(q, 1) * dim(q, qDim) * dim(k, kDim);
  };
  double flops = 0;
  func.walk([&](Operation *op) {
    llvm::TypeSwitch<Operation *>(op)
        .Case<attn::ScoreOp>([&](attn::ScoreOp s) {
          flops += 2 * pairs(s.getResult(), s.getResult(), 2, 3) *
                   dim(s.getQuery(), 3);
        })
        .Case<attn::AggregateOp>([&](attn::AggregateOp a) {
          flops += 2 * pairs(a.getScores(), a.getScores(), 2, 3) *
                   dim(a.getValue(), 3);
        })
        .Case<attn::AttentionOp>([&](attn::AttentionOp a) {
          flops += 2 * pairs(a.getQuery(), a.getKey(), 2, 2) *
                   (dim(a.getQuery(), 3) + dim(a.getValue(), 3));
        })
        .Case<attn::LinearAggregateOp>([&](attn::LinearAggregateOp l) {
          flops += 2 * pairs(l.getQuery(), l.getValue(), 2, 2) *
                   (dim(l.getQuery(), 3) + dim(l.getValue(), 3));
        });
  });
  return flops;
}

/// The function to run: --entry, else the module's only public function;
/// checked to take and return tensors the runner can exchange.
func::FuncOp selectEntry(ModuleOp module, const Options &o) {
  func::FuncOp func;
  SmallVector<func::FuncOp> publics = attn_tools::publicFunctions(module);
  if (!o.entry.empty()) {
    func = module.lookupSymbol<func::FuncOp>(o.entry);
    if (!func || func.isExternal())
      fail(o.file, "no function named '" + o.entry + "'");
  } else if (publics.size() == 1) {
    func = publics.front();
  } else {
    fail(o.file,
         publics.empty()
             ? "no public function to run"
             : "several public functions; choose one with --entry=NAME");
  }
  checkSignature(func, o.file);
  if (!o.grad && o.outs.size() > func.getNumResults())
    fail("--out", std::to_string(o.outs.size()) + " outputs given but @" +
                      func.getName().str() + " has " +
                      std::to_string(func.getNumResults()) + " result(s)");
  return func;
}

/// The arguments of `func`, random (--random-args) or read from the --arg
/// files, with the names messages give them.
void loadArguments(func::FuncOp func, const Options &o,
                   std::vector<HostTensor> &args,
                   std::vector<std::string> &argNames) {
  unsigned numArgs = func.getNumArguments();
  if (o.randomArgs) {
    std::mt19937_64 rng(o.seed);
    for (unsigned i = 0; i < numArgs; ++i) {
      auto type = cast<RankedTensorType>(func.getArgumentTypes()[i]);
      if (!type.hasStaticShape())
        fail("--random-args", "argument #" + std::to_string(i) +
                                  " has a dynamic shape; pass --arg files");
      std::optional<int64_t> bytes = attn::checkedByteSize(type.getShape(), 1);
      if (!bytes || *bytes > (int64_t(1) << 31))
        fail("--random-args",
             "argument #" + std::to_string(i) + " has more than 2^31 elements");
      args.push_back(randomArgument(func, i, type, rng));
      argNames.push_back("argument #" + std::to_string(i));
    }
    return;
  }
  if (o.args.size() != numArgs)
    fail(o.file, "@" + func.getName().str() + " takes " +
                     std::to_string(numArgs) + " argument(s) but " +
                     std::to_string(o.args.size()) + " --arg given");
  for (unsigned i = 0; i < numArgs; ++i) {
    args.push_back(readArgument(func, i, o.args[i]));
    argNames.push_back(o.args[i]);
  }
}

/// The reference interpreter's results for `args`.
SmallVector<attn::reference::Tensor> referenceResults(func::FuncOp func,
                                                      ArrayRef<HostTensor> args,
                                                      const Options &o) {
  attn_tools::setPhase("running the reference interpreter");
  SmallVector<attn::reference::Tensor> refArgs, reference;
  for (const HostTensor &a : args)
    refArgs.push_back(toReference(a));
  std::string error;
  if (!attn::reference::evaluate(func, refArgs, reference, error))
    failInFile(o.file, error);
  return reference;
}

/// Erases the functions `entry` does not call, directly or not.
void keepOnlyEntry(ModuleOp module, func::FuncOp entry) {
  llvm::SmallPtrSet<Operation *, 8> used;
  SmallVector<func::FuncOp> worklist = {entry};
  while (!worklist.empty()) {
    func::FuncOp f = worklist.pop_back_val();
    if (!used.insert(f).second)
      continue;
    f.walk([&](func::CallOp call) {
      if (auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee()))
        worklist.push_back(callee);
    });
  }
  for (func::FuncOp f :
       llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (!used.contains(f))
      f.erase();
}

/// Compiles the entry through the chosen pipeline (on a copy of `module`).
std::unique_ptr<CompiledFunction>
compileEntry(ModuleOp module, func::FuncOp func, const Options &o,
             const attn_tools::FirstError &firstError) {
  // The parallel loops run on OpenMP threads; set before the runtime
  // starts.
  int64_t threads =
      o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  OwningOpRef<ModuleOp> lowered = module.clone();
  func::FuncOp loweredFunc =
      lowered->lookupSymbol<func::FuncOp>(func.getName());
  // The ring distributes every attention it compiles: only the entry's.
  if (o.sequenceParallel != "none")
    keepOnlyEntry(*lowered, loweredFunc);
  return compile(*lowered, loweredFunc, o, firstError);
}

/// Compiles the entry through the chosen pipeline and runs it once, reading
/// the results back when something needs them.
std::unique_ptr<CompiledFunction>
compileAndRun(ModuleOp module, func::FuncOp func, const Options &o,
              const attn_tools::FirstError &firstError,
              std::vector<HostTensor> &args, std::vector<HostTensor> &results) {
  std::unique_ptr<CompiledFunction> compiled =
      compileEntry(module, func, o, firstError);
  // Results are copied out only when something reads them.
  bool readResults = o.check || !o.outs.empty();
  if (llvm::Error err = compiled->run(args, readResults ? &results : nullptr))
    fail(o.file, "execution failed: " + llvm::toString(std::move(err)));
  return compiled;
}

/// A function timed by --bench, with its arguments and call times.
struct Timed {
  std::string name;
  std::vector<HostTensor> args;
  std::unique_ptr<CompiledFunction> fn;
  double flops;
  std::vector<double> times;
};

/// A --bench-with function, compiled, warmed up and given random arguments.
Timed prepareBenchWith(ModuleOp module, const std::string &name,
                       const Options &o,
                       const attn_tools::FirstError &firstError) {
  auto other = module.lookupSymbol<func::FuncOp>(name);
  if (!other || other.isExternal())
    fail("--bench-with", "no function named '" + name + "'");
  std::vector<HostTensor> otherArgs;
  std::mt19937_64 rng(o.seed);
  for (auto [i, t] : llvm::enumerate(other.getArgumentTypes())) {
    auto type = dyn_cast<RankedTensorType>(t);
    if (!type || !type.hasStaticShape() ||
        storageSize(type.getElementType()) == 0)
      fail("--bench-with", "argument #" + std::to_string(i) + " of @" + name +
                               " must be a statically shaped tensor");
    otherArgs.push_back(randomArgument(other, i, type, rng));
  }
  std::vector<std::string> names(otherArgs.size(), "@" + name);
  KnownShapes otherKnown = checkConcreteShapes(other, otherArgs);
  validateMaskData(other, otherArgs, names, otherKnown);
  OwningOpRef<ModuleOp> lowered = module.clone();
  auto fn = compile(*lowered, lowered->lookupSymbol<func::FuncOp>(name), o,
                    firstError);
  if (llvm::Error err = fn->run(otherArgs, nullptr)) // warm-up
    fail(o.file, "execution failed: " + llvm::toString(std::move(err)));
  return {name,
          std::move(otherArgs),
          std::move(fn),
          countFlops(other, otherKnown),
          {}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Times the entry and the --bench-with functions alternately, call by
/// call, so that their comparison sees the same machine state (a shared
/// machine drifts between speed regimes over seconds); prints the medians.
void benchmark(ModuleOp module, const Options &o,
               const attn_tools::FirstError &firstError, Timed entry) {
  std::vector<Timed> timed;
  timed.push_back(std::move(entry));
  for (const std::string &name : o.benchWith)
    timed.push_back(prepareBenchWith(module, name, o, firstError));
  for (int64_t i = 0; i < o.bench; ++i)
    for (Timed &t : timed) {
      auto start = std::chrono::steady_clock::now();
      if (llvm::Error err = t.fn->run(t.args, nullptr))
        fail(o.file, "execution failed: " + llvm::toString(std::move(err)));
      auto end = std::chrono::steady_clock::now();
      t.times.push_back(
          std::chrono::duration<double, std::milli>(end - start).count());
    }
  double ms = median(timed[0].times);
  llvm::outs() << llvm::format("median_ms=%.4f gflops=%.3f\n", ms,
                               timed[0].flops / (ms * 1e-3) / 1e9);
  for (size_t f = 1; f < timed.size(); ++f) {
    std::vector<double> ratios;
    for (int64_t i = 0; i < o.bench; ++i)
      ratios.push_back(timed[f].times[i] / timed[0].times[i]);
    double fms = median(timed[f].times);
    llvm::outs() << llvm::format(
        "entry=%s median_ms=%.4f gflops=%.3f time_ratio=%.4f\n",
        timed[f].name.c_str(), fms, timed[f].flops / (fms * 1e-3) / 1e9,
        median(ratios));
  }
}

//===----------------------------------------------------------------------===//
// Gradients (--grad)
//===----------------------------------------------------------------------===//

/// The cotangents @F_grad takes after F's arguments: one per floating-point
/// result of F (lse included), with that result's type.
SmallVector<RankedTensorType> cotangentTypes(func::FuncOp func) {
  SmallVector<RankedTensorType> types;
  for (unsigned r : attn::reference::cotangentResults(func))
    types.push_back(cast<RankedTensorType>(func.getResultTypes()[r]));
  return types;
}

/// The argument types of @F_grad: F's arguments, then its cotangents.
SmallVector<RankedTensorType> gradientFunctionArgumentTypes(func::FuncOp func) {
  SmallVector<RankedTensorType> types;
  for (Type t : func.getArgumentTypes())
    types.push_back(cast<RankedTensorType>(t));
  llvm::append_range(types, cotangentTypes(func));
  return types;
}

/// The result types of @F_grad: one gradient per floating-point tensor
/// argument of F, with that argument's type.
SmallVector<RankedTensorType> gradientTypes(func::FuncOp func) {
  SmallVector<RankedTensorType> types;
  for (unsigned a : attn::reference::gradientArguments(func))
    types.push_back(cast<RankedTensorType>(func.getArgumentTypes()[a]));
  return types;
}

/// With --arg files, --grad needs one per argument of @F_grad: F's, then
/// one cotangent per floating-point result.
void checkGradientArgumentCount(func::FuncOp func, const Options &o) {
  size_t expected = gradientFunctionArgumentTypes(func).size();
  if (!o.randomArgs && o.args.size() != expected)
    fail(o.file, "@" + func.getName().str() + "_grad takes " +
                     std::to_string(expected) + " argument(s) (" +
                     std::to_string(func.getNumArguments()) + " of @" +
                     func.getName().str() +
                     ", then one cotangent per floating-point result) but " +
                     std::to_string(o.args.size()) + " --arg given");
}

/// F's arguments: drawn, or read from the first --arg files.
void loadForwardArguments(func::FuncOp func, const Options &o,
                          std::vector<HostTensor> &args,
                          std::vector<std::string> &argNames) {
  unsigned numArgs = func.getNumArguments();
  checkGradientArgumentCount(func, o);
  Options forward = o;
  if (!o.randomArgs)
    forward.args.resize(numArgs);
  loadArguments(func, forward, args, argNames);
}

/// The concrete shapes of F's results: those propagated through its attn
/// ops from the arguments (`known`) or their static types, or, when neither
/// gives one, the shapes of `reference()`'s results (the reference forward
/// is f64 and materialises every intermediate, S x S scores included, so it
/// runs only when a shape needs it).
SmallVector<SmallVector<int64_t>>
resultShapes(func::FuncOp func, const KnownShapes &known,
             function_ref<SmallVector<attn::reference::Tensor>()> reference) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  SmallVector<SmallVector<int64_t>> shapes;
  for (Value v : ret.getOperands()) {
    SmallVector<int64_t> shape(cast<RankedTensorType>(v.getType()).getShape());
    if (auto it = known.find(v); it != known.end())
      shape.assign(it->second.begin(), it->second.end());
    if (llvm::any_of(shape, ShapedType::isDynamic)) {
      shapes.clear();
      for (const attn::reference::Tensor &r : reference())
        shapes.emplace_back(r.shape.begin(), r.shape.end());
      return shapes;
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

/// The cotangents, with the concrete shapes `resultShapes` of F's results:
/// drawn uniformly in [-1, 1] (--random-args, from a second generator
/// seeded by --seed) or read from the --arg files after F's arguments, as
/// `types` (cotangentTypes, or their global types under the ring).
void loadCotangents(func::FuncOp func, const Options &o,
                    ArrayRef<SmallVector<int64_t>> resultShapes,
                    ArrayRef<RankedTensorType> types,
                    std::vector<HostTensor> &cotangents) {
  SmallVector<unsigned> indices = attn::reference::cotangentResults(func);
  std::mt19937_64 rng(o.seed ^ 0x9e3779b97f4a7c15ull);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (auto [k, type] : llvm::enumerate(types)) {
    ArrayRef<int64_t> shape = resultShapes[indices[k]];
    HostTensor t;
    if (o.randomArgs) {
      t.elementType = type.getElementType();
      t.shape.assign(shape.begin(), shape.end());
      t.storage.assign(t.numElements() * t.elementSize(), 0);
      for (int64_t i = 0, n = t.numElements(); i < n; ++i)
        t.set(i, uniform(rng));
      cotangents.push_back(std::move(t));
      continue;
    }
    const std::string &path = o.args[func.getNumArguments() + k];
    NpyArray array;
    std::string error;
    if (!readNpy(path, array, error))
      fail(path, error);
    if (!fromNpy(array, type, t, error))
      fail(path, "cotangent #" + std::to_string(k) + ": " + error);
    if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end()))
      fail(path, "cotangent #" + std::to_string(k) + ": shape " +
                     attn::formatShape(
                         SmallVector<int64_t>(t.shape.begin(), t.shape.end())) +
                     " does not match the shape " + attn::formatShape(shape) +
                     " of result #" + std::to_string(indices[k]));
    cotangents.push_back(std::move(t));
  }
}

/// --fd-check: compares the reference gradient with finite differences;
/// prints max_fd_err and returns whether it is within tolerance.
bool checkGradientByFiniteDifferences(
    func::FuncOp func, ArrayRef<attn::reference::Tensor> args,
    ArrayRef<attn::reference::Tensor> cotangents, const Options &o) {
  attn::reference::FiniteDifferenceReport report;
  std::string error;
  if (!attn::reference::checkFiniteDifferences(
          func, args, cotangents, o.fdCheck, o.seed, report, error))
    failInFile(o.file, error);
  llvm::outs() << llvm::format("max_fd_err=%.3e fd_samples=%u fd_skipped=%u\n",
                               report.maxError, report.compared,
                               report.skipped);
  bool ok = report.maxError <= attn::reference::kFiniteDifferenceTolerance;
  if (!ok)
    llvm::errs() << llvm::format(
        "finite differences disagree with the gradient beyond %.0e: "
        "argument #%u, element %lld: gradient %.17g, finite difference "
        "%.17g\n",
        attn::reference::kFiniteDifferenceTolerance, report.argument,
        static_cast<long long>(report.element), report.analytic,
        report.numeric);
  if (report.compared < static_cast<uint64_t>(o.fdCheck)) {
    llvm::errs() << "only " << report.compared << " of " << o.fdCheck
                 << " finite-difference samples fell on differentiable "
                    "points\n";
    ok = false;
  }
  return ok;
}

/// The tolerance of a gradient: every gradient depends on every value of
/// the forward, so an f32 gradient (of sinks, say) of a bf16 program carries
/// bf16 rounding. Take the loosest tolerance over F's floating-point
/// argument and result types.
Tolerance gradientTolerance(func::FuncOp func) {
  Tolerance tol{0.0, 0.0};
  auto widen = [&](Type t) {
    Type elt = getElementTypeOrSelf(t);
    if (!isa<FloatType>(elt))
      return;
    Tolerance e = toleranceFor(elt);
    tol = {std::max(tol.atol, e.atol), std::max(tol.rtol, e.rtol)};
  };
  for (Type t : func.getArgumentTypes())
    widen(t);
  for (Type t : func.getResultTypes())
    widen(t);
  return tol;
}

/// Gradients are compared normwise per result: the largest deviation must
/// stay within the program's tolerance (gradientTolerance) times the largest
/// reference magnitude (at least 1). Elementwise relative error is meaningless
/// for gradient entries that cancel to nearly 0 (docs/attn-run.md).
bool compareGradients(ArrayRef<HostTensor> actual,
                      ArrayRef<attn::reference::Tensor> expected,
                      Tolerance tol) {
  double maxAbs = 0, maxRef = 0;
  bool ok = actual.size() == expected.size();
  for (size_t r = 0; r < actual.size() && r < expected.size(); ++r) {
    const HostTensor &a = actual[r];
    const attn::reference::Tensor &e = expected[r];
    if (a.numElements() != static_cast<int64_t>(e.data.size())) {
      llvm::errs() << "gradient #" << r
                   << ": size differs from the reference's\n";
      ok = false;
      continue;
    }
    double abs = 0, ref = 0;
    int64_t worst = 0;
    for (int64_t i = 0, n = a.numElements(); i < n; ++i) {
      // As compareResults: equal infinities and NaN on both sides agree; a
      // NaN on one side only fails.
      double x = a.get(i), y = e.data[i];
      double d = std::fabs(x - y);
      if (std::isnan(d))
        d = x == y || (std::isnan(x) && std::isnan(y))
                ? 0
                : std::numeric_limits<double>::infinity();
      if (d > abs) {
        abs = d;
        worst = i;
      }
      if (std::isfinite(y))
        ref = std::max(ref, std::fabs(y));
    }
    double bound = tol.atol + tol.rtol * std::max(1.0, ref);
    if (!(abs <= bound)) {
      llvm::errs() << "gradient #" << r << ": max |error| " << abs
                   << " exceeds " << bound << " (normwise; reference max "
                   << ref << "); worst at flat index " << worst << ": got "
                   << a.get(worst) << ", expected " << e.data[worst] << "\n";
      ok = false;
    }
    maxAbs = std::max(maxAbs, abs);
    maxRef = std::max(maxRef, ref);
  }
  double maxRel = maxRef > 0 ? maxAbs / maxRef : maxAbs;
  llvm::outs() << llvm::format("max_abs_err=%.3e max_rel_err=%.3e\n", maxAbs,
                               maxRel);
  return ok;
}

/// --out names at most one file per result of @F_grad.
void checkGradientOutputs(func::FuncOp func, const Options &o) {
  if (o.outs.size() > gradientTypes(func).size())
    fail("--out", std::to_string(o.outs.size()) + " outputs given but @" +
                      func.getName().str() + "_grad has " +
                      std::to_string(gradientTypes(func).size()) +
                      " result(s) (one per floating-point tensor argument)");
}

/// Adds @F_grad to the module (the attn-grad pass's builder) and returns it.
func::FuncOp addGradientFunction(func::FuncOp func, const Options &o,
                                 const attn_tools::FirstError &firstError) {
  attn_tools::setPhase("building the gradient");
  FailureOr<func::FuncOp> grad = attn::buildGradientFunction(func);
  if (failed(grad))
    fail(o.file, "attn-grad failed" + firstError.suffix());
  return *grad;
}

/// attn-run --grad: @F_grad through the chosen pipeline, or the reference
/// interpreter's own reverse mode. Returns the exit status.
int runGradient(ModuleOp module, func::FuncOp func, const Options &o,
                const attn_tools::FirstError &firstError) {
  checkGradientOutputs(func, o);
  std::vector<HostTensor> args, cotangents;
  std::vector<std::string> argNames;
  loadForwardArguments(func, o, args, argNames);
  KnownShapes known = checkConcreteShapes(func, args);
  validateMaskData(func, args, argNames, known);
  loadCotangents(func, o,
                 resultShapes(func, known,
                              [&] { return referenceResults(func, args, o); }),
                 cotangentTypes(func), cotangents);
  // The reference's f64 copies and reverse mode, only where something reads
  // them: --bench measures the compiled gradient's time and memory alone.
  bool reference = o.pipeline == "reference";
  SmallVector<attn::reference::Tensor> refArgs, refCotangents, grads;
  if (reference || o.check || o.fdCheck) {
    for (const HostTensor &a : args)
      refArgs.push_back(toReference(a));
    for (const HostTensor &c : cotangents)
      refCotangents.push_back(toReference(c));
  }
  std::string error;
  if ((reference || o.check) && !attn::reference::evaluateGradient(
                                    func, refArgs, refCotangents, grads, error))
    failInFile(o.file, error);
  std::vector<HostTensor> results;
  std::unique_ptr<CompiledFunction> compiled;
  std::vector<HostTensor> gradArgs;
  func::FuncOp gradFunc;
  if (reference) {
    for (const attn::reference::Tensor &g : grads)
      results.push_back(fromReference(g));
  } else {
    gradFunc = addGradientFunction(func, o, firstError);
    // Moved, not copied: nothing reads args or cotangents afterwards, and a
    // copy would double the host memory --bench's peak RSS includes.
    gradArgs = std::move(args);
    std::move(cotangents.begin(), cotangents.end(),
              std::back_inserter(gradArgs));
    compiled =
        compileAndRun(module, gradFunc, o, firstError, gradArgs, results);
  }
  for (size_t i = 0; i < o.outs.size(); ++i) {
    std::string writeError;
    if (!writeNpy(o.outs[i], toNpy(results[i]), writeError))
      fail(o.outs[i], writeError);
  }
  bool ok =
      !o.check || compareGradients(results, grads, gradientTolerance(func));
  if (o.fdCheck)
    ok &= checkGradientByFiniteDifferences(func, refArgs, refCotangents, o);
  // FLOPs of the gradient: the forward recomputed once plus a backward of
  // 2.5 forwards (the FlashAttention-2 convention).
  if (compiled && o.bench)
    benchmark(module, o, firstError,
              {gradFunc.getName().str(),
               std::move(gradArgs),
               std::move(compiled),
               3.5 * countFlops(func, known),
               {}});
  return ok ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// Sequence parallelism (--sequence-parallel=ring, under mpirun)
//===----------------------------------------------------------------------===//

/// The sequence axis of each argument and result of the entry (none:
/// replicated on every rank), from the fused attentions that use them.
struct Sharding {
  SmallVector<std::optional<unsigned>> args, results;
};

Sharding analyseSharding(ModuleOp module, func::FuncOp func, const Options &o,
                         const attn_tools::FirstError &firstError) {
  // Read the fused program: attn-fuse runs first in the ring's pipeline.
  OwningOpRef<ModuleOp> fused = module.clone();
  PassManager pm(module.getContext());
  pm.addPass(attn::createAttnFuse());
  if (failed(pm.run(*fused)))
    fail(o.file, "attn-fuse failed" + firstError.suffix());
  auto entry = fused->lookupSymbol<func::FuncOp>(func.getName());
  Sharding s;
  s.args.resize(entry.getNumArguments());
  s.results.resize(entry.getNumResults());
  auto shardArgument = [&](Value v, unsigned axis, const char *what) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner()->getParentOp() != entry)
      fail(o.file, "--sequence-parallel=" + o.sequenceParallel + ": the " +
                       what + " of every attention must be an argument of @" +
                       func.getName().str() + " (its shard is cut from it)");
    s.args[arg.getArgNumber()] = axis;
  };
  bool any = false;
  const bool decode = o.sequenceParallel == "decode";
  entry.walk([&](attn::AttentionOp a) {
    any = true;
    // Decoding shards the keys only: queries and results are replicated.
    if (!decode)
      shardArgument(a.getQuery(), 2, "query");
    shardArgument(a.getKey(), 2, "key");
    shardArgument(a.getValue(), 2, "value");
    ValueRange operands = a.getMaskOperands();
    for (Attribute p : a.getPatterns()) {
      unsigned n = cast<attn::MaskPatternAttrInterface>(p).getNumMaskOperands();
      for (unsigned i = 0; i < n; ++i)
        // #attn.segments: (query ids, key ids); a block mask is the whole
        // sequence's, replicated.
        if (!isa<attn::BlockMaskAttr>(p) &&
            (!decode || (isa<attn::SegmentsAttr>(p) && i == 1)))
          shardArgument(
              operands[i],
              cast<RankedTensorType>(operands[i].getType()).getRank() - 1,
              "mask data");
      operands = operands.drop_front(n);
    }
  });
  if (!any)
    fail(o.file, "--sequence-parallel=" + o.sequenceParallel + ": @" +
                     func.getName().str() +
                     " has no fused attention to distribute");
  auto ret = cast<func::ReturnOp>(entry.getBody().front().getTerminator());
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    if (!decode && v.getDefiningOp<attn::AttentionOp>())
      s.results[i] = 2; // output [B, H, S, Dv] and lse [B, H, S]
  return s;
}

/// The ranges of global positions rank `r` of `p` holds, in shard order.
SmallVector<std::pair<int64_t, int64_t>> shardRanges(int64_t length, int64_t p,
                                                     int64_t r, bool zigzag) {
  if (!zigzag) {
    int64_t n = length / p;
    return {{r * n, n}};
  }
  int64_t m = length / (2 * p);
  return {{r * m, m}, {(2 * p - 1 - r) * m, m}};
}

/// Copies the positions of rank `r` between a global tensor and a shard
/// along `axis` (toShard: global -> shard; else shard -> global).
void copyShard(HostTensor &global, HostTensor &shard, unsigned axis, int64_t p,
               int64_t r, bool zigzag, bool toShard) {
  int64_t length = global.shape[axis], n = shard.shape[axis];
  int64_t outer = 1, inner = global.elementSize();
  for (unsigned d = 0; d < axis; ++d)
    outer *= global.shape[d];
  for (unsigned d = axis + 1; d < global.shape.size(); ++d)
    inner *= global.shape[d];
  for (int64_t o = 0; o < outer; ++o) {
    int64_t at = 0;
    for (auto [start, len] : shardRanges(length, p, r, zigzag)) {
      uint8_t *g = global.storage.data() + (o * length + start) * inner;
      uint8_t *sh = shard.storage.data() + (o * n + at) * inner;
      if (toShard)
        std::memcpy(sh, g, len * inner);
      else
        std::memcpy(g, sh, len * inner);
      at += len;
    }
  }
}

HostTensor emptyLike(const HostTensor &t, unsigned axis, int64_t length) {
  HostTensor r;
  r.elementType = t.elementType;
  r.shape = t.shape;
  r.shape[axis] = length;
  r.storage.assign(r.numElements() * r.elementSize(), 0);
  return r;
}

/// The standard error of ranks other than 0 while they check what every rank
/// checks alike (the program, the flags, the inputs): rank 0 alone reports
/// a failure there. -1: not redirected.
int savedStderr = -1;

void quietOtherRanks() {
  const char *rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank || std::string(rank) == "0")
    return;
  llvm::errs().flush();
  savedStderr = dup(2);
  int devNull = open("/dev/null", O_WRONLY);
  dup2(devNull, 2);
  close(devNull);
}

void restoreOtherRanksErrors() {
  if (savedStderr < 0)
    return;
  llvm::errs().flush();
  dup2(savedStderr, 2);
  close(savedStderr);
  savedStderr = -1;
}

#ifdef ATTN_HAVE_MPI

/// A rank that exits without finalizing (every failure: fail() exits 2, a
/// crash 4) takes the whole job down instead of leaving the others waiting
/// in the ring.
void abortJobOnExit() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    return;
  // A failure every rank meets alike is rank 0's to report: let it print
  // before the job goes down.
  if (savedStderr >= 0)
    sleep(2);
  MPI_Abort(MPI_COMM_WORLD, 2);
}

/// The global arguments: drawn with the global shapes (the same seed on
/// every rank) or read from the --arg files; their sequence lengths must
/// split into the layout's shards.
std::vector<HostTensor> loadGlobalArguments(func::FuncOp func,
                                            const Sharding &sharding,
                                            const Options &o, int64_t p,
                                            std::vector<std::string> &names) {
  std::vector<HostTensor> global;
  int64_t parts = o.layout == "zigzag" ? 2 * p : p;
  std::mt19937_64 rng(o.seed);
  if (o.grad) {
    checkGradientArgumentCount(func, o);
  } else if (!o.randomArgs && o.args.size() != func.getNumArguments()) {
    fail(o.file, "@" + func.getName().str() + " takes " +
                     std::to_string(func.getNumArguments()) +
                     " argument(s) but " + std::to_string(o.args.size()) +
                     " --arg given");
  }
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto type = cast<RankedTensorType>(func.getArgumentTypes()[i]);
    SmallVector<int64_t> shape(type.getShape());
    if (std::optional<unsigned> axis = sharding.args[i];
        axis && !type.isDynamicDim(*axis))
      shape[*axis] *= p;
    auto globalType = RankedTensorType::get(shape, type.getElementType());
    HostTensor t;
    if (o.randomArgs) {
      if (!globalType.hasStaticShape())
        fail("--random-args", "argument #" + std::to_string(i) +
                                  " has a dynamic shape; pass --arg files");
      t = randomArgument(func, i, globalType, rng);
      names.push_back("argument #" + std::to_string(i));
    } else {
      NpyArray array;
      std::string error;
      if (!readNpy(o.args[i], array, error))
        fail(o.args[i], error);
      if (!fromNpy(array, globalType, t, error))
        fail(o.args[i],
             "argument #" + std::to_string(i) + " (global): " + error);
      names.push_back(o.args[i]);
    }
    if (std::optional<unsigned> axis = sharding.args[i]) {
      int64_t length = t.shape[*axis];
      if (length % parts != 0)
        fail(names.back(),
             "sequence length " + std::to_string(length) +
                 " does not split into " + std::to_string(parts) +
                 (o.layout == "zigzag" ? " zigzag chunks (2P, P = "
                                       : " contiguous shards (P = ") +
                 std::to_string(p) + ")");
    }
    global.push_back(std::move(t));
  }
  return global;
}

/// Rank 0's copy of result `index`, gathered from every rank's shard.
HostTensor gatherResult(HostTensor &shard, std::optional<unsigned> axis,
                        int64_t p, int64_t rank, bool zigzag) {
  if (!axis)
    return shard;
  size_t bytes = shard.storage.size();
  if (bytes > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail("--sequence-parallel", "a result shard over 2 GiB");
  std::vector<uint8_t> all(rank == 0 ? bytes * p : 0);
  MPI_Gather(shard.storage.data(), static_cast<int>(bytes), MPI_BYTE,
             all.data(), static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD);
  HostTensor global = emptyLike(shard, *axis, shard.shape[*axis] * p);
  if (rank != 0)
    return global;
  for (int64_t r = 0; r < p; ++r) {
    std::memcpy(shard.storage.data(), all.data() + r * bytes, bytes);
    copyShard(global, shard, *axis, p, r, zigzag, /*toShard=*/false);
  }
  return global;
}

/// Rank 0's sum over the ranks of `part`: the gradient of a replicated
/// argument, of which each rank computed its share.
HostTensor sumOverRanks(const HostTensor &part, int64_t rank) {
  int64_t n = part.numElements();
  std::vector<double> mine(n), total(rank == 0 ? n : 0);
  for (int64_t i = 0; i < n; ++i)
    mine[i] = part.get(i);
  if (n > std::numeric_limits<int>::max())
    fail("--sequence-parallel", "a replicated gradient over 2^31 elements");
  MPI_Reduce(mine.data(), total.data(), static_cast<int>(n), MPI_DOUBLE,
             MPI_SUM, 0, MPI_COMM_WORLD);
  HostTensor sum = part;
  if (rank == 0)
    for (int64_t i = 0; i < n; ++i)
      sum.set(i, total[i]);
  return sum;
}

/// --grad under the ring: the global cotangents, one per floating-point
/// result of F with that result's global shape (propagated from the global
/// inputs, `known`), drawn or read from the --arg files after F's
/// arguments.
std::vector<HostTensor> loadGlobalCotangents(func::FuncOp func,
                                             ArrayRef<HostTensor> global,
                                             const KnownShapes &known,
                                             const Options &o) {
  SmallVector<SmallVector<int64_t>> shapes = resultShapes(func, known, [&] {
    SmallVector<attn::reference::Tensor> refArgs, results;
    for (const HostTensor &a : global)
      refArgs.push_back(toReference(a));
    std::string error;
    if (!attn::reference::evaluateIgnoringStaticSizes(func, refArgs, results,
                                                      error))
      failInFile(o.file, "the reference on the global inputs: " + error);
    return results;
  });
  SmallVector<RankedTensorType> types;
  for (unsigned r : attn::reference::cotangentResults(func))
    types.push_back(RankedTensorType::get(
        shapes[r],
        cast<RankedTensorType>(func.getResultTypes()[r]).getElementType()));
  std::vector<HostTensor> cotangents;
  loadCotangents(func, o, shapes, types, cotangents);
  return cotangents;
}

/// --bench under the ring: every call starts together (a barrier), and the
/// slowest rank's median is reported.
void benchmarkRing(CompiledFunction &fn, std::vector<HostTensor> &args,
                   const Options &o, int64_t p, int64_t rank) {
  std::vector<double> times;
  for (int64_t i = 0; i < o.bench; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error err = fn.run(args, nullptr))
      fail(o.file, "execution failed: " + llvm::toString(std::move(err)));
    auto end = std::chrono::steady_clock::now();
    times.push_back(
        std::chrono::duration<double, std::milli>(end - start).count());
  }
  double mine = median(times), slowest = 0;
  MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0)
    llvm::outs() << llvm::format("median_ms=%.4f ranks=%lld\n", slowest,
                                 static_cast<long long>(p));
}

int runRing(ModuleOp module, func::FuncOp func, const Options &o,
            const attn_tools::FirstError &firstError) {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  std::atexit(abortJobOnExit);
  int rankInt = 0, sizeInt = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rankInt);
  MPI_Comm_size(MPI_COMM_WORLD, &sizeInt);
  const int64_t rank = rankInt, p = sizeInt;
  const bool zigzag = o.layout == "zigzag";
  Sharding sharding = analyseSharding(module, func, o, firstError);
  std::vector<std::string> names;
  std::vector<HostTensor> global =
      loadGlobalArguments(func, sharding, o, p, names);
  const size_t numForwardArgs = global.size();
  // The shapes' rules hold for the whole sequence (a block mask covers it),
  // so the global inputs are checked, against the shard's program.
  KnownShapes known =
      checkConcreteShapes(func, global, /*ignoreDeclaredSizes=*/true);
  validateMaskData(func, global, names, known);
  // --grad runs @F_grad: F's arguments then the cotangents of its results
  // in, one gradient per floating-point argument out, each sharded like
  // what it belongs to.
  Sharding entrySharding = sharding;
  std::vector<HostTensor> globalCotangents;
  func::FuncOp entry = func;
  if (o.grad) {
    checkGradientOutputs(func, o);
    globalCotangents = loadGlobalCotangents(func, global, known, o);
    for (unsigned r : attn::reference::cotangentResults(func))
      entrySharding.args.push_back(sharding.results[r]);
    entrySharding.results.clear();
    for (unsigned a : attn::reference::gradientArguments(func))
      entrySharding.results.push_back(sharding.args[a]);
    entry = addGradientFunction(func, o, firstError);
  }
  std::vector<HostTensor> args;
  auto addShard = [&](HostTensor &g, std::optional<unsigned> axis) {
    if (!axis) {
      args.push_back(g);
      return;
    }
    HostTensor shard = emptyLike(g, *axis, g.shape[*axis] / p);
    copyShard(g, shard, *axis, p, rank, zigzag, /*toShard=*/true);
    args.push_back(std::move(shard));
  };
  for (auto [i, g] : llvm::enumerate(global))
    addShard(g, entrySharding.args[i]);
  for (auto [k, c] : llvm::enumerate(globalCotangents))
    addShard(c, entrySharding.args[numForwardArgs + k]);
  // Ranks share the machine's cores unless --threads says otherwise.
  Options local = o;
  if (!local.threads)
    local.threads = std::max<int64_t>(1, std::thread::hardware_concurrency() /
                                             std::max<int64_t>(p, 1));
  std::unique_ptr<CompiledFunction> compiled =
      compileEntry(module, entry, local, firstError);
  // From here on a failure may be one rank's own.
  restoreOtherRanksErrors();
  if (o.failRank == rank)
    fail("--test-fail-rank",
         "rank " + std::to_string(rank) + " fails on purpose");
  std::vector<HostTensor> results;
  bool readResults = o.check || !o.outs.empty();
  if (llvm::Error err = compiled->run(args, readResults ? &results : nullptr))
    fail(o.file, "execution failed: " + llvm::toString(std::move(err)));
  attn_tools::setPhase("gathering the results");
  std::vector<HostTensor> gathered;
  if (readResults)
    for (auto [i, r] : llvm::enumerate(results)) {
      std::optional<unsigned> axis = entrySharding.results[i];
      gathered.push_back(o.grad && !axis
                             ? sumOverRanks(r, rank)
                             : gatherResult(r, axis, p, rank, zigzag));
    }
  bool agrees = true;
  if (rank == 0) {
    for (size_t i = 0; i < o.outs.size(); ++i) {
      std::string error;
      if (!writeNpy(o.outs[i], toNpy(gathered[i]), error))
        fail(o.outs[i], error);
    }
    if (o.check) {
      attn_tools::setPhase("running the reference interpreter");
      SmallVector<attn::reference::Tensor> refArgs, reference;
      for (const HostTensor &a : global)
        refArgs.push_back(toReference(a));
      std::string error;
      if (o.grad) {
        SmallVector<attn::reference::Tensor> refCotangents;
        for (const HostTensor &c : globalCotangents)
          refCotangents.push_back(toReference(c));
        if (!attn::reference::evaluateGradient(func, refArgs, refCotangents,
                                               reference, error,
                                               /*ignoreStaticSizes=*/true))
          failInFile(o.file, "the reference on the global inputs: " + error);
        agrees = compareGradients(gathered, reference, gradientTolerance(func));
      } else {
        if (!attn::reference::evaluateIgnoringStaticSizes(func, refArgs,
                                                          reference, error))
          failInFile(o.file, "the reference on the global inputs: " + error);
        agrees =
            compareResults(gathered, reference, entmaxAbsoluteTolerances(func));
      }
    }
  }
  if (o.bench)
    benchmarkRing(*compiled, args, local, p, rank);
  MPI_Finalize();
  return agrees ? 0 : 1;
}

#endif // ATTN_HAVE_MPI

/// attn-run --sequence-parallel=ring: one shard per rank of the mpirun job.
int runSequenceParallel(ModuleOp module, func::FuncOp func, const Options &o,
                        const attn_tools::FirstError &firstError) {
#ifdef ATTN_HAVE_MPI
  return runRing(module, func, o, firstError);
#else
  (void)module;
  (void)func;
  (void)firstError;
  fail("--sequence-parallel", "this attn-run was built without MPI (install "
                              "libopenmpi-dev and reconfigure)");
#endif
}

} // namespace

int main(int argc, char **argv) {
  attn_tools::installCrashHandlers("attn-run");
  attn_tools::setPhase("reading the command line");
  // Under mpirun every rank parses the same command line: rank 0 reports.
  for (int i = 1; i < argc; ++i)
    if (StringRef(argv[i]).starts_with("--sequence-parallel") ||
        StringRef(argv[i]).starts_with("-sequence-parallel"))
      quietOtherRanks();
  Options o = parseOptions(argc, argv);
  if (o.sequenceParallel == "none")
    restoreOtherRanksErrors();
  // Keep freed memory in the process, as the peers' benchmarks do
  // (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_): result buffers are
  // allocated on every call and fresh pages cost ~12 us each to fault in
  // on this VM.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());

  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  // The first diagnostic becomes the one-line error message.
  attn_tools::FirstError firstError(context, o.file);
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module =
      attn_tools::parseOrFail(o.file, context, firstError, sourceMgr);
  func::FuncOp func = selectEntry(*module, o);
  attn_tools::setPhase("reading the arguments");
  if (o.sequenceParallel != "none")
    return runSequenceParallel(*module, func, o, firstError);
  if (o.grad)
    return runGradient(*module, func, o, firstError);

  std::vector<HostTensor> args;
  std::vector<std::string> argNames;
  loadArguments(func, o, args, argNames);
  KnownShapes known = checkConcreteShapes(func, args);
  validateMaskData(func, args, argNames, known);
  double flops = countFlops(func, known);

  // The reference result, when asked for or needed by --check.
  SmallVector<attn::reference::Tensor> reference;
  if (o.check || o.pipeline == "reference")
    reference = referenceResults(func, args, o);

  std::vector<HostTensor> results;
  std::unique_ptr<CompiledFunction> compiled;
  if (o.pipeline == "reference") {
    for (const attn::reference::Tensor &t : reference)
      results.push_back(fromReference(t));
  } else {
    compiled = compileAndRun(*module, func, o, firstError, args, results);
  }

  attn_tools::setPhase("writing the results");
  for (size_t i = 0; i < o.outs.size(); ++i) {
    std::string error;
    if (!writeNpy(o.outs[i], toNpy(results[i]), error))
      fail(o.outs[i], error);
  }

  attn_tools::setPhase("checking the results");
  bool agrees = !o.check || compareResults(results, reference,
                                           entmaxAbsoluteTolerances(func));

  if (compiled && o.bench)
    benchmark(*module, o, firstError,
              {func.getName().str(), args, std::move(compiled), flops, {}});
  return agrees ? 0 : 1;
}
