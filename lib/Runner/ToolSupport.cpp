//===- ToolSupport.cpp - error reporting shared by the attn tools ---------===//

#include "attn/Runner/ToolSupport.h"

#include "attn/Kernel/CpuTarget.h"
#include "mlir/IR/AsmState.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unistd.h>

using namespace mlir;

std::pair<std::string, std::string> attn_tools::hostTargetOptions() {
  auto [cpu, features] = attn::getHostCpu();
  if (failed(attn::getCpuTarget(cpu, "")))
    cpu.clear();
  return {cpu, features};
}

FailureOr<std::vector<std::string>>
attn_tools::featuresMissingOnHost(StringRef cpu, StringRef features) {
  FailureOr<llvm::StringMap<bool>> enabled =
      attn::getCpuFeatures(cpu, features);
  if (failed(enabled))
    return failure();
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  // The vector and arithmetic extensions the kernels' code may contain.
  std::vector<std::string> missing;
  for (const char *f :
       {"sse4.2", "avx", "avx2", "fma", "f16c", "bmi", "bmi2", "avx512f",
        "avx512bw", "avx512dq", "avx512vl", "avx512bf16", "avx512fp16",
        "avx512vnni", "amx-tile", "amx-bf16"})
    if (enabled->lookup(f) && !host.lookup(f))
      missing.push_back(f);
  return missing;
}

void attn_tools::fail(const std::string &subject, const std::string &msg) {
  llvm::errs() << subject << ": " << msg << "\n";
  std::exit(2);
}

void attn_tools::parseCommandLine(int argc, char **argv,
                                  llvm::cl::OptionCategory &category,
                                  llvm::StringRef overview) {
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  registerAsmPrinterCLOptions();
  llvm::cl::HideUnrelatedOptions(category);
  std::string errors;
  llvm::raw_string_ostream os(errors);
  std::string text = (overview + "\n\nMLIR's --mlir-* options are accepted "
                                 "too (--help-hidden lists them).\n")
                         .str();
  if (llvm::cl::ParseCommandLineOptions(argc, argv, text, &os))
    return;
  llvm::errs() << StringRef(errors).split('\n').first.trim() << "\n";
  std::exit(2);
}

void attn_tools::applyMLIROptions(PassManager &pm, const std::string &tool) {
  if (failed(applyPassManagerCLOptions(pm)))
    fail(tool, "invalid --mlir-* pass manager options");
  auto timing = std::make_unique<DefaultTimingManager>();
  applyDefaultTimingManagerCLOptions(*timing);
  pm.enableTiming(std::move(timing));
}

void attn_tools::failInFile(const std::string &file, const std::string &msg) {
  // "LINE:COLUMN: rest" -> subject "FILE:LINE:COLUMN".
  llvm::StringRef rest = msg;
  unsigned line = 0, column = 0;
  if (!rest.consumeInteger(10, line) && rest.consume_front(":") &&
      !rest.consumeInteger(10, column) && rest.consume_front(": "))
    fail(file + ":" + std::to_string(line) + ":" + std::to_string(column),
         rest.str());
  fail(file, msg);
}

//===----------------------------------------------------------------------===//
// Crashes and out-of-memory
//===----------------------------------------------------------------------===//

namespace {

// Read by signal handlers: only atomics, fixed buffers and write(2).
std::atomic<const char *> currentPhase{"starting"};
char toolPrefix[64];
std::atomic<bool> reporting{false};
bool stackTrace = false;

void writeString(const char *s) {
  for (size_t n = std::strlen(s); n > 0;) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= w;
  }
}

/// One line "TOOL: WHAT while PHASE[TAIL]"; only the first reporter
/// writes (other threads wait for its _exit).
void reportOnce(const char *what, const char *tail) {
  if (reporting.exchange(true))
    for (;;)
      ::pause();
  writeString(toolPrefix);
  writeString(what);
  writeString(" while ");
  writeString(currentPhase.load());
  writeString(tail);
  writeString("\n");
}

const char *describeSignal(int sig) {
  switch (sig) {
  case SIGSEGV:
    return "internal error: SIGSEGV (invalid memory access)";
  case SIGBUS:
    return "internal error: SIGBUS (invalid memory access)";
  case SIGFPE:
    return "internal error: SIGFPE (arithmetic error)";
  case SIGILL:
    return "internal error: SIGILL (illegal instruction)";
  case SIGABRT:
    return "internal error: SIGABRT (abort)";
  case SIGTRAP:
    return "internal error: SIGTRAP (trap)";
  default:
    return "internal error: fatal signal";
  }
}

constexpr const char *kPleaseReport =
    "; please report it (ATTN_CRASH_TRACE=1 prints a stack trace)";

void onCrashSignal(int sig) {
  reportOnce(describeSignal(sig), kPleaseReport);
  if (stackTrace)
    llvm::sys::PrintStackTrace(llvm::errs());
  ::_exit(attn_tools::kInternalErrorStatus);
}

void onOutOfMemory() {
  reportOnce("out of memory", "");
  ::_exit(attn_tools::kOutOfMemoryStatus);
}

void onLLVMFatalError(void *, const char *reason, bool) {
  // LLVM's reason may span lines: the message keeps the first.
  std::string line = std::string("internal error: LLVM fatal error '") +
                     std::string(reason).substr(0, std::strcspn(reason, "\n")) +
                     "'";
  reportOnce(line.c_str(), kPleaseReport);
  ::_exit(attn_tools::kInternalErrorStatus);
}

void onLLVMBadAlloc(void *, const char *, bool) { onOutOfMemory(); }

} // namespace

void attn_tools::installCrashHandlers(const char *toolName) {
  std::snprintf(toolPrefix, sizeof(toolPrefix), "%s: ", toolName);
  const char *trace = std::getenv("ATTN_CRASH_TRACE");
  stackTrace = trace && *trace && std::strcmp(trace, "0") != 0;
  std::set_new_handler(onOutOfMemory);
  llvm::install_bad_alloc_error_handler(onLLVMBadAlloc);
  llvm::install_fatal_error_handler(onLLVMFatalError);
  // An alternate stack, so that a stack overflow of the main thread is
  // reported too.
  static char altStack[1 << 16];
  stack_t ss{};
  ss.ss_sp = altStack;
  ss.ss_size = sizeof(altStack);
  ::sigaltstack(&ss, nullptr);
  struct sigaction action {};
  action.sa_handler = onCrashSignal;
  action.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP})
    ::sigaction(sig, &action, nullptr);
}

void attn_tools::setPhase(const char *phase) {
  currentPhase.store(phase);
  const char *crash = std::getenv("ATTN_TEST_CRASH");
  if (crash && std::strcmp(crash, phase) == 0)
    std::raise(SIGSEGV);
}

std::string attn_tools::firstLineOfOptionError(const std::string &text) {
  StringRef line = StringRef(text).split('\n').first.trim();
  line.consume_front("<Pass-Options-Parser>: ");
  return line.empty() ? std::string() : ": " + line.str();
}

//===----------------------------------------------------------------------===//
// Programs
//===----------------------------------------------------------------------===//

attn_tools::FirstError::FirstError(MLIRContext &context, std::string file)
    : file(std::move(file)),
      handler(&context, [this](Diagnostic &diag) { return record(diag); }) {}

LogicalResult attn_tools::FirstError::record(Diagnostic &diag) {
  if (diag.getSeverity() != DiagnosticSeverity::Error || !message.empty())
    return success();
  std::string loc;
  llvm::raw_string_ostream os(loc);
  if (auto fl = dyn_cast<FileLineColLoc>(diag.getLocation()))
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":"
       << fl.getColumn();
  else
    os << file;
  message = loc + ": error: " + diag.str();
  return success();
}

OwningOpRef<ModuleOp> attn_tools::parseOrFail(const std::string &file,
                                              MLIRContext &context,
                                              const FirstError &error,
                                              llvm::SourceMgr &sourceMgr) {
  setPhase("parsing");
  // "-" is standard input.
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(file);
  if (!buffer)
    fail(file, "cannot read file: " + buffer.getError().message());
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module) {
    llvm::errs() << (error.str().empty() ? file + ": parse error" : error.str())
                 << "\n";
    std::exit(2);
  }
  return module;
}

SmallVector<func::FuncOp> attn_tools::publicFunctions(ModuleOp module) {
  SmallVector<func::FuncOp> publics;
  module.walk([&](func::FuncOp f) {
    if (f.isPublic() && !f.isExternal())
      publics.push_back(f);
  });
  return publics;
}
