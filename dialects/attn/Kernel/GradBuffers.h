//===- GradBuffers.h - what every attention backward starts from -*- C++
//-*-===//
//
// The CPU (TileGrad) and GPU (GpuTileGrad) backward kernels of
// attn.attention_grad begin alike: the operands as buffers, the sizes B, Sq,
// Skv and the causal offset Skv - Sq, and the gradients allocated like what
// they differentiate. They inherit this struct and fill it here.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_KERNEL_GRADBUFFERS_H
#define ATTN_KERNEL_GRADBUFFERS_H

#include "attn/Kernel/KernelBuilder.h"

namespace mlir::attn {

struct AttentionGradBuffers {
  // Operands as buffers (out and lse null where the kernel does not read
  // them) and sizes.
  Value q, key, v, out, dOut, lse, dLse, sinks;
  Value batch, sq, skv, offset;
  // Results.
  Value dq, dk, dv, dSinks;

  /// The operands of `op` as buffers and its sizes; the forward's output
  /// and lse only when `readForward` (a kernel that recomputes the forward
  /// reads neither).
  void loadOperands(KernelBuilder &k, AttentionGradOp op, bool readOutput,
                    bool readLse);

  /// dQ, dK, dV (and the sinks' gradient) with the types of Q, K, V (and
  /// the sinks).
  void allocateGradients(KernelBuilder &k, AttentionGradOp op,
                         const HeadDims &dims);
};

} // namespace mlir::attn

#endif // ATTN_KERNEL_GRADBUFFERS_H
