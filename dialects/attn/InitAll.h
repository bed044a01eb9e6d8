//===- InitAll.h - register everything attn provides ------------*- C++ -*-===//
//
// The one registration entry point used by every attn tool and by host
// compilers that embed the attn pipelines.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_INITALL_H
#define ATTN_INITALL_H

namespace mlir {
class DialectRegistry;
namespace attn {

/// Registers the attn dialect and every upstream dialect (and interface
/// extension) the attn pipelines produce or accept.
void registerAllDialects(DialectRegistry &registry);

/// Registers the attn passes and the upstream passes the pipelines use.
void registerAllPasses();

/// Registers the pipelines attn-naive-to-llvm, attn-to-llvm, attn-to-nvvm and
/// attn-gpu-emulation-to-llvm.
void registerAllPipelines();

/// Registers the translations attn-translate offers (--mlir-to-llvmir, ...).
void registerAllTranslations();

} // namespace attn
} // namespace mlir

#endif // ATTN_INITALL_H
