//===- GpuTileGrad.h - GPU kernels for attn.attention_grad ------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOGPU_GPUTILEGRAD_H
#define ATTN_CONVERSION_ATTNTOGPU_GPUTILEGRAD_H

#include "attn/Conversion/AttnToGPU/GpuTile.h"

namespace mlir::attn {

/// Lowers `op` to the FlashAttention-2 backward as `gpu.launch` ops, without
/// atomics (every gradient element is written by one thread, every sum runs
/// in a fixed order, so equal inputs give bit-identical results):
///   1. (softmax) Δ_i = rowsum(dO_i ∘ O_i) - dlse_i, one thread per row;
///   2. (sinks) d(sink_h) = -Σ_{b,i} e^{sink_h - lse_i} Δ_i, one thread per
///      head;
///   3. dK, dV: blocks over (key block, K/V head, batch), rowThreads
///      threads per key; the query tiles of every query head of the GQA
///      group that the mask analysis does not prove empty are staged in
///      shared memory (Q scaled, dO, lse, Δ);
///   4. dQ: blocks over (query tile, query head, batch), rowThreads threads
///      per row; the visible key tiles are staged in shared memory.
/// P is recomputed from lse; nothing of size Sq x Skv is built. `blockQ`
/// sizes the query tiles (and the rows staged by kernel 3, halved to fit 40
/// KiB), `blockKV` the key blocks (and the keys staged by kernel 4, halved
/// to fit), `rowThreads` the threads per row or key (0: 4 from D = 128, 2
/// from D = 64, else 1). Fails (leaving the op to attn-decompose) for
/// captured tensors (their gradients would be scattered), dynamic head
/// counts or head dimensions, and score_mod regions without an adjoint.
FailureOr<SmallVector<Value>>
gpuTileAttentionGrad(RewriterBase &rewriter, AttentionGradOp op,
                     const GpuTileOptions &options);

void populateGpuTileGradPatterns(RewritePatternSet &patterns,
                                 const GpuTileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOGPU_GPUTILEGRAD_H
