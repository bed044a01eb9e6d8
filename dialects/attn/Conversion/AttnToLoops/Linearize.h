//===- Linearize.h - chunked form of attn.linear_aggregate ------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZE_H
#define ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZE_H

#include "attn/IR/AttnOps.h"
#include "attn/Kernel/CpuTarget.h"
#include "attn/Kernel/KernelBuilder.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Chunk length (0: the cost model, 64 positions) and f32 vector lanes (0:
/// the target's).
struct LinearizeOptions {
  int64_t chunk = 0;
  int64_t vectorWidth = 0;
  /// The CPU the code is for: its vector width where vectorWidth is 0.
  CpuTarget target;
};

/// Lowers `op` to its O(S) form: a parallel loop over (batch, query head)
/// walking the keys in chunks with a decayed state re-based per chunk
/// (causal), or the state over all keys first (non-causal). Feature maps
/// (any kind) that feed only `op` are applied on load. With a `state`
/// operand, the state starts from it and the final state is the second
/// result. Fails when a head count or feature size is dynamic.
FailureOr<SmallVector<Value>>
linearizeAggregate(RewriterBase &rewriter, LinearAggregateOp op,
                   const LinearizeOptions &options);

/// A stack table of λ^e for e = 0..maxExponent (λ^0 = 1, also for λ = 0;
/// |λ^e| < 1e-30 flushed to 0), built at `k`'s insertion point: the decay
/// weights of the chunked forms, whose exponents never exceed the chunk.
Value buildDecayPowers(KernelBuilder &k, Value lambda, int64_t maxExponent);

/// The patterns of attn-linearize: linear_aggregate (above) and its backward
/// linear_aggregate_grad (linearizeAggregateGrad, LinearizeGrad.h).
void populateLinearizePatterns(RewritePatternSet &patterns,
                               const LinearizeOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_LINEARIZE_H
