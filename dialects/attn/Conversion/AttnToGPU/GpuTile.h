//===- GpuTile.h - GPU kernels for attn.attention ---------------*- C++ -*-===//
#ifndef ATTN_CONVERSION_ATTNTOGPU_GPUTILE_H
#define ATTN_CONVERSION_ATTNTOGPU_GPUTILE_H

#include "attn/IR/AttnOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Query rows per thread block (one thread each) and keys per shared-memory
/// tile; 0 lets the cost model choose (64 rows; as many keys, up to 64, as
/// fit K and V tiles in 40 KiB of shared memory).
struct GpuTileOptions {
  int64_t blockQ = 0;
  int64_t blockKV = 0;
  /// Threads per query row (a power of two up to 32 dividing D and Dv; 0:
  /// 2 from D = 128, else 1).
  int64_t rowThreads = 0;
};

/// Lowers `op` to one `gpu.launch` over (query tile, head, batch) blocks of
/// blockQ threads, one query row per thread: the block's K/V tiles are staged
/// in shared memory (f32), each thread keeps its scaled query row and its
/// accumulator in registers (vectors over D and Dv) and runs the online
/// softmax over the tile's scores. The key range of a block and the
/// empty/full class of each key tile come from the compile-time mask
/// analysis, so empty tiles are never loaded and full ones skip the mask.
/// Operands are read through bufferization.to_buffer; the results are new
/// buffers. Fails for csr/indices masks (gather form) and dynamic heads.
FailureOr<SmallVector<Value>> gpuTileAttention(RewriterBase &rewriter,
                                               AttentionOp op,
                                               const GpuTileOptions &options);

void populateGpuTilePatterns(RewritePatternSet &patterns,
                             const GpuTileOptions &options);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOGPU_GPUTILE_H
