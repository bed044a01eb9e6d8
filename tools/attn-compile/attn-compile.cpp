//===- attn-compile.cpp - ahead-of-time compiler for attn programs --------===//
//
// attn-compile FILE.mlir --target=cpu|cuda -o OUT    (FILE "-": stdin)
//
// Lowers every public function through attn-to-llvm (cpu) or attn-to-nvvm
// (cuda, the kernels as an embedded cubin) and writes OUT.o, an object file,
// and OUT.h, a C header declaring one checked entry point per function,
// `int32_t attn_NAME(results, args...)` over MLIR's memref descriptors
// (AotEntries.h), with attn_last_error() and attn_set_num_threads().
// Linking the object needs neither libMLIR nor libLLVM: the OpenMP runtime
// (libomp) for cpu, and libattn_cuda_runtime.a plus libcuda for cuda.
// Exit status 2 with a one-line message names the file and the problem; 3
// is out of memory, 4 an internal error (a crash), each one line too.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Runner/AotEntries.h"
#include "attn/Runner/ToolSupport.h"
#include "attn/Transforms/Grad.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <optional>
#include <set>

using namespace mlir;

namespace {

struct Options {
  std::string file, target, out;
  /// --mcpu ("native": this machine's) and --mattr.
  std::string cpu, features;
  std::string cpuOptions, gpuOptions;
  /// --grad: also compile @F_grad for every public @F (attn-grad).
  bool grad = false;
};

using attn_tools::fail;

namespace cl = llvm::cl;

cl::OptionCategory category("attn-compile options");
cl::opt<std::string> inputFile(cl::Positional, cl::desc("<FILE.mlir | ->"),
                               cl::cat(category));
cl::opt<std::string> targetFlag("target", cl::desc("What the object is for"),
                                cl::value_desc("cpu|cuda"), cl::cat(category));
cl::opt<std::string>
    outFlag("o",
            cl::desc("Output path: writes OUT.o (object) and OUT.h (C header, "
                     "one attn_NAME entry point per public function)"),
            cl::value_desc("OUT"), cl::cat(category));
cl::opt<std::string>
    cpuFlag("mcpu",
            cl::desc("CPU the object is for, as LLVM names it; 'native' is "
                     "this machine (the cost model follows it)"),
            cl::value_desc("CPU"), cl::init("x86-64-v3"), cl::cat(category));
cl::opt<std::string>
    featuresFlag("mattr",
                 cl::desc("Features added to or removed from the CPU's"),
                 cl::value_desc("+f,-g"), cl::cat(category));
cl::opt<std::string>
    cpuOptionsFlag("cpu-options",
                   cl::desc("attn-to-llvm options, e.g. 'tile-q=64 threads=4'"),
                   cl::value_desc("options"), cl::cat(category));
cl::opt<std::string>
    gpuOptionsFlag("gpu-options",
                   cl::desc("attn-to-nvvm options, e.g. 'chip=sm_80'"),
                   cl::value_desc("options"), cl::cat(category));
cl::opt<bool> gradFlag(
    "grad",
    cl::desc("Also compile NAME_grad for every public function NAME "
             "(attn-grad: its arguments, then one cotangent per float result; "
             "one gradient per float argument)"),
    cl::cat(category));

/// llvm::cl parses both `--flag=value` and `--flag value`; MLIR's own
/// options (--mlir-timing, --mlir-print-ir-after-all, ...) pass through to
/// the context and the pass manager. Errors exit 2 with one line.
Options parseOptions(int argc, char **argv) {
  // --mlir-print-ir-after=PASS names our passes too.
  attn::registerAllPasses();
  attn_tools::parseCommandLine(argc, argv, category,
                               "attn ahead-of-time compiler: attn-compile "
                               "FILE.mlir --target=cpu|cuda -o OUT");
  Options o;
  o.file = inputFile;
  o.target = targetFlag;
  o.out = outFlag;
  o.cpu = cpuFlag;
  o.features = featuresFlag;
  o.cpuOptions = cpuOptionsFlag;
  o.gpuOptions = gpuOptionsFlag;
  o.grad = gradFlag;
  if (o.file.empty())
    fail("attn-compile", "no input file (usage: attn-compile FILE.mlir "
                         "--target=cpu|cuda -o OUT)");
  if (o.target.empty())
    fail("attn-compile", "missing --target=cpu|cuda");
  if (o.target != "cpu" && o.target != "cuda")
    fail("--target",
         "unknown target '" + o.target + "' (expected cpu or cuda)");
  if (o.out.empty())
    fail("attn-compile", "missing -o OUT");
  if (StringRef(o.out).ends_with(".o"))
    o.out.resize(o.out.size() - 2);
  return o;
}

//===----------------------------------------------------------------------===//
// The C header
//===----------------------------------------------------------------------===//

/// The C type of a memref element or scalar, or empty when there is none.
std::string cType(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  if (t.isF16() || t.isBF16())
    return "uint16_t"; // raw IEEE half / bfloat16 bits
  if (t.isIndex())
    return "intptr_t";
  if (auto i = dyn_cast<IntegerType>(t)) {
    switch (i.getWidth()) {
    case 1:
    case 8:
      return "uint8_t"; // i1 is stored one per byte
    case 16:
      return "int16_t";
    case 32:
      return "int32_t";
    case 64:
      return "int64_t";
    }
  }
  return "";
}

std::string eltName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// The descriptor struct of a ranked tensor's buffer, e.g.
/// attn_memref_4d_f32 {float *allocated, *aligned; int64_t offset,
/// sizes[4], strides[4];}, emitted once per header.
class HeaderWriter {
public:
  explicit HeaderWriter(const std::string &file) : file(file) {}

  std::string descriptor(RankedTensorType t) {
    std::string elt = cType(t.getElementType());
    if (elt.empty())
      fail(file, "unsupported element type " + eltName(t.getElementType()) +
                     " in a function signature");
    std::string name = "attn_memref_" + std::to_string(t.getRank()) + "d_" +
                       eltName(t.getElementType());
    if (declared.insert(name).second) {
      types += "#ifndef ATTN_DEFINED_" + name + "\n#define ATTN_DEFINED_" +
               name + "\ntypedef struct {\n  " + elt + " *allocated;\n  " +
               elt + " *aligned;\n  int64_t offset;\n";
      if (t.getRank() > 0)
        types += "  int64_t sizes[" + std::to_string(t.getRank()) +
                 "];\n  int64_t strides[" + std::to_string(t.getRank()) +
                 "];\n";
      types += "} " + name + ";\n#endif\n\n";
    }
    return name;
  }

  /// The declaration of `f`'s C interface.
  void declare(func::FuncOp f) {
    std::string name = f.getName().str();
    std::string params, comment = "/* " + name + "(";
    FunctionType type = f.getFunctionType();
    auto typeOf = [&](Type t) -> std::string {
      if (auto rt = dyn_cast<RankedTensorType>(t))
        return descriptor(rt);
      // f16/bf16 scalars travel in vector registers, unlike uint16_t.
      std::string c = cType(t);
      if (c.empty() || isa<ShapedType>(t) || t.isF16() || t.isBF16())
        fail(file, "function '" + name + "': unsupported type " + eltName(t) +
                       " (tensors, and f32/f64/integer/index scalars only)");
      return c;
    };
    // A lone scalar result would be returned by value, not through a
    // pointer: results must be tensors.
    for (Type t : type.getResults())
      if (!isa<RankedTensorType>(t))
        fail(file, "function '" + name + "': result type " + eltName(t) +
                       " is not a tensor (results must be tensors)");
    if (type.getNumResults() == 1) {
      params = typeOf(type.getResult(0)) + " *result";
    } else if (type.getNumResults() > 1) {
      std::string results = "typedef struct {\n";
      for (auto [n, t] : llvm::enumerate(type.getResults()))
        results += "  " + typeOf(t) + " r" + std::to_string(n) + ";\n";
      results += "} attn_" + name + "_results;\n";
      decls += results;
      params = "attn_" + name + "_results *results";
    }
    for (auto [n, t] : llvm::enumerate(type.getInputs())) {
      if (!params.empty())
        params += ", ";
      std::string c = typeOf(t);
      params += isa<RankedTensorType>(t) ? c + " *arg" + std::to_string(n)
                                         : c + " arg" + std::to_string(n);
      comment += (n ? ", " : "") + eltName(t);
    }
    comment += ") */\n";
    decls += comment + "int32_t attn_" + name + "(" +
             (params.empty() ? "void" : params) + ");\n\n";
    addEntry(f);
  }

  /// The entry table (under ATTN_ENTRY_TABLE) that lets a generic runner
  /// call `f`: its tensors' element types and static sizes (-1: dynamic),
  /// and a trampoline taking descriptor pointers.
  void addEntry(func::FuncOp f) {
    std::string name = f.getName().str();
    FunctionType type = f.getFunctionType();
    auto describe = [&](TypeRange types, const std::string &array) {
      std::string out = "static const attn_entry_tensor " + array + "[] = {";
      for (Type t : types) {
        auto rt = dyn_cast<RankedTensorType>(t);
        if (!rt || rt.getRank() > 8)
          return std::string();
        out += "{\"" + eltName(rt.getElementType()) + "\", " +
               std::to_string(rt.getRank()) + ", {";
        for (int64_t d : rt.getShape())
          out += std::to_string(ShapedType::isDynamic(d) ? -1 : d) + ", ";
        out += rt.getRank() ? "}}, " : "0}}, ";
      }
      return out + "{0, 0, {0}}};\n";
    };
    std::string args = describe(type.getInputs(), "attn_" + name + "_args");
    std::string results =
        describe(type.getResults(), "attn_" + name + "_result_types");
    if (args.empty() || results.empty())
      return; // scalars: no generic entry
    std::string call = "static int32_t attn_call_" + name +
                       "(void **args, void *results) {\n  (void)args;\n"
                       "  (void)results;\n  return attn_" +
                       name + "(";
    std::string sep;
    if (type.getNumResults() == 1) {
      call += "(" + descriptor(cast<RankedTensorType>(type.getResult(0))) +
              " *)results";
      sep = ", ";
    } else if (type.getNumResults() > 1) {
      call += "(attn_" + name + "_results *)results";
      sep = ", ";
    }
    for (auto [n, t] : llvm::enumerate(type.getInputs())) {
      call += sep + "(" + descriptor(cast<RankedTensorType>(t)) + " *)args[" +
              std::to_string(n) + "]";
      sep = ", ";
    }
    call += ");\n}\n";
    table += args + results + call;
    entries += "  {\"" + name + "\", attn_call_" + name + ", " +
               std::to_string(type.getNumInputs()) + ", attn_" + name +
               "_args, " + std::to_string(type.getNumResults()) + ", attn_" +
               name + "_result_types},\n";
  }

  std::string text(const std::string &guard, const std::string &target) {
    std::string cuda =
        target == "cuda"
            ? "/* Arguments and results live in CUDA managed memory: "
              "allocate\n   arguments with attnCudaAlloc, free results' "
              "`allocated` pointers with\n   attnCudaFree "
              "(libattn_cuda_runtime.a; link -lcuda). */\n"
              "void *attnCudaAlloc(uint64_t size_bytes);\n"
              "void attnCudaFree(void *ptr);\n"
              "void attnCudaSynchronize(void);\n\n"
            : "/* Results are malloc'ed: free their `allocated` pointers. "
              "Link -lomp\n   (the OpenMP runtime of the parallel loops) and "
              "-lm. */\n\n";
    static const char *runtime =
        "/* Every entry point checks its arguments as attn-run does (sizes,\n"
        "   contiguous row-major strides, CSR and index mask data) and "
        "returns 0,\n   or 2 with a one-line message for attn_last_error() "
        "(this thread's\n   last failure; \"\" after a success). "
        "attn_set_num_threads(n > 0) sets the\n   threads of later calls "
        "(0: the OpenMP default). */\n"
        "const char *attn_last_error(void);\n"
        "void attn_set_num_threads(int32_t n);\n\n";
    return "/* Generated by attn-compile from " + file +
           " (--target=" + target + "). */\n#ifndef " + guard + "\n#define " +
           guard +
           "\n\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" "
           "{\n#endif\n\n" +
           types + cuda + runtime + decls + entryTable() +
           "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  }

private:
  std::string entryTable() {
    return "/* For generic runners (attn-aot-run): every function's tensor\n"
           "   types and a trampoline taking descriptor pointers. */\n"
           "#ifdef ATTN_ENTRY_TABLE\ntypedef struct {\n  const char *element;"
           "\n  int rank;\n  int64_t sizes[8];\n} attn_entry_tensor;\n"
           "typedef struct {\n  const char *name;\n  int32_t (*call)(void "
           "**args,"
           " void *results);\n  int num_args;\n  const attn_entry_tensor "
           "*args;\n  int num_results;\n  const attn_entry_tensor *results;\n"
           "} attn_entry;\n" +
           table + "static const attn_entry attn_entries[] = {\n" + entries +
           "  {0, 0, 0, 0, 0, 0}};\n"
           "/* A shared library for the installed attn-aot-run exports the "
           "table\n   (docs/gpu.md, attn-aot-run). */\n"
           "#ifdef ATTN_EXPORT_ENTRY_TABLE\nconst attn_entry "
           "*attn_aot_entries(void) { return attn_entries; }\n#endif\n"
           "#endif\n\n";
  }

  std::string file, types, decls, table, entries;
  std::set<std::string> declared;
};

//===----------------------------------------------------------------------===//
// Object emission
//===----------------------------------------------------------------------===//

void emitObject(llvm::Module &module, const Options &o) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    fail(o.file, "no LLVM target for " + triple + ": " + error);
  std::string cpu = o.cpu, features = o.features;
  if (o.cpu == "native") {
    cpu = llvm::sys::getHostCPUName().str();
    features = attn_tools::hostTargetOptions().second;
  }
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), cpu, features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    fail(o.file, "cannot create a target machine for " + cpu);
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(llvm::Triple(triple));
  if (llvm::Error err = makeOptimizingTransformer(3, 0, machine.get())(&module))
    fail(o.file, "LLVM optimisation failed: " + llvm::toString(std::move(err)));

  std::error_code ec;
  llvm::raw_fd_ostream os(o.out + ".o", ec, llvm::sys::fs::OF_None);
  if (ec)
    fail(o.out + ".o", "cannot write: " + ec.message());
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    fail(o.file, "the target cannot emit object files");
  codegen.run(module);
}

} // namespace

int main(int argc, char **argv) {
  attn_tools::installCrashHandlers("attn-compile");
  attn_tools::setPhase("reading the command line");
  Options o = parseOptions(argc, argv);
  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  attn_tools::FirstError firstError(context, o.file);
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module =
      attn_tools::parseOrFail(o.file, context, firstError, sourceMgr);

  SmallVector<func::FuncOp> publics = attn_tools::publicFunctions(*module);
  if (publics.empty())
    fail(o.file, "no public function to compile");
  attn_tools::setPhase("building the gradients");
  if (o.grad)
    for (func::FuncOp f : publics)
      if (failed(attn::buildGradientFunction(f)))
        fail(o.file, "attn-grad failed" + firstError.suffix());

  // The header and the argument checks, from the signatures before
  // lowering.
  HeaderWriter header(o.file);
  publics = attn_tools::publicFunctions(*module);
  SmallVector<attn_run::AotEntry> entries;
  for (func::FuncOp f : publics) {
    if (std::string error = attn_run::entryNameError(f.getName());
        !error.empty())
      fail(o.file, error);
    header.declare(f);
    f->setAttr("llvm.emit_c_interface", UnitAttr::get(&context));
    entries.push_back(attn_run::addArgumentChecks(f));
  }

  PassManager pm(&context);
  attn_tools::applyMLIROptions(pm, "attn-compile");
  if (o.target == "cpu") {
    auto options = attn_tools::parsePipelineOptions<attn::ToLLVMOptions>(
        "--cpu-options", "attn-to-llvm", o.cpuOptions);
    if (std::string error = attn::checkToLLVMOptions(*options); !error.empty())
      fail("--cpu-options", error);
    // The cost model follows the CPU the object is for.
    if (options->targetCpu.empty() && options->targetFeatures.empty()) {
      if (o.cpu == "native")
        std::tie(options->targetCpu, options->targetFeatures) =
            attn_tools::hostTargetOptions();
      else
        options->targetCpu = o.cpu;
      if (!o.features.empty())
        options->targetFeatures =
            options->targetFeatures.empty()
                ? o.features
                : options->targetFeatures + "," + o.features;
    }
    attn::buildToLLVMPipeline(pm, *options);
  } else {
    // The kernels as a cubin: no PTX JIT when the program starts.
    auto options = attn_tools::parsePipelineOptions<attn::ToNVVMOptions>(
        "--gpu-options", "attn-to-nvvm", "format=bin " + o.gpuOptions);
    attn::buildToNVVMPipeline(pm, *options);
  }
  attn_tools::setPhase("lowering");
  if (failed(pm.run(*module)))
    fail(o.file,
         "lowering for --target=" + o.target + " failed" + firstError.suffix());

  attn_run::defineEntryPoints(*module, entries,
                              /*openmp=*/o.target == "cpu");

  attn_tools::setPhase("translating to LLVM IR");
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext, o.file);
  if (!llvmModule)
    fail(o.file, "translation to LLVM IR failed" + firstError.suffix());
  attn_tools::setPhase("generating the object file");
  emitObject(*llvmModule, o);
  attn_tools::setPhase("writing the header");

  std::string guard = "ATTN_";
  for (char c : llvm::sys::path::filename(o.out).str())
    guard +=
        std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  guard += "_H";
  std::error_code ec;
  llvm::raw_fd_ostream h(o.out + ".h", ec, llvm::sys::fs::OF_Text);
  if (ec)
    fail(o.out + ".h", "cannot write: " + ec.message());
  h << header.text(guard, o.target);
  return 0;
}
