//===- Passes.td - attn ops to loops (CPU forms) and GPU kernels ---*- tablegen -*-===//
#ifndef ATTN_CONVERSION_PASSES_TD
#define ATTN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnTile : Pass<"attn-tile"> {
  let summary = "Lower attn.attention (and its gradient) to the tiled "
                "online-softmax form";
  let description = [{
    Lowers each `attn.attention` to FlashAttention-2 style loops: a parallel
    loop over (batch, head, query tile) and, inside, a loop over the key
    tiles that the compile-time mask analysis finds non-empty, with running
    maximum and rescaled sums. Full tiles skip mask evaluation; partial tiles
    evaluate the mask per element. Scores, statistics and accumulators are
    f32; K/V heads are read through the GQA mapping without copies. The inner
    products use vector ops of the given width.

    An entmax `attn.attention` has no online form: per query tile the row
    maxima, then each row's threshold by passes over the scores (Newton's
    method on the β-norm for α <= 2, bisection otherwise), then the weights
    and P V over the key tiles with a non-zero weight. The scores are kept
    in a heap scratch of up to 16 MiB per query tile, else recomputed on
    every pass (`entmax-recompute` forces that).

    Each `attn.attention_grad` becomes the FlashAttention-2 backward: P is
    recomputed from the saved lse, the key tiles are walked per (batch, K/V
    head, query part) over the query tiles the mask analysis does not prove
    empty, dK and dV accumulate on the stack and dQ in an f32 buffer; every
    reduction runs in a fixed order (no atomics).
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"0",
           "Query rows per tile (0: chosen by the cost model)">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"0",
           "Keys per tile, rounded up to the vector width (0: cost model)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the vector ops (16 for AVX-512, 8 for AVX2; 0: the "
           "target CPU's)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"\"",
           "CPU the code is generated for, as LLVM names it (empty: "
           "x86-64 with AVX2); it sets the cost model's vector width">,
    Option<"targetFeatures", "target-features", "std::string",
           /*default=*/"\"\"",
           "Features added to or removed from the target CPU's: +f,-g">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "Parallel parts of the key axis, merged by lse (0: cost model)">,
    Option<"entmaxRecompute", "entmax-recompute", "bool", /*default=*/"false",
           "entmax: recompute the scores on every pass instead of keeping "
           "them (false: the cost model keeps them up to 16 MiB per query "
           "tile)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def AttnSparsify : Pass<"attn-sparsify"> {
  let summary = "Lower attn.attention with dynamic sparse masks to the "
                "gather or the block-sparse form";
  let description = [{
    Rewrites each `attn.attention` whose mask has a `#attn.csr` or
    `#attn.indices` pattern into the gather form: a parallel loop over
    (batch, head, query) whose inner loop visits exactly the row's listed
    keys (CSR neighbours, or the row's index slots, duplicates counted once)
    with an online softmax; the other patterns, the predicate and score_mod
    (e.g. an edge bias) are applied per visited key, and nothing of size
    Sq x Skv is ever built.

    Lowers `attn.select_topk` to one pass per score row that keeps the row's
    best top_k in a sorted buffer; when its scores come from an `attn.score`
    used nowhere else, each score is computed in that pass and the score
    tensor is never built.

    Rewrites each other `attn.attention` whose mask has a `#attn.block_mask`,
    `#attn.segments` or `#attn.rows` pattern into the block-sparse form: a
    run-time compaction loop first turns the mask data into per-(batch,
    head, query tile) lists of the key tiles to visit (count + indices, each
    marked full, partial in the static patterns only, or partial), without
    building any dense mask; the tiled online-softmax kernel of `attn-tile`
    then visits only the listed tiles. Block masks may use any block size,
    independent of the tile size. Segment ids are reduced to per-key-tile
    ranges, so documents of packed batches never meet. Static patterns keep
    their compile-time tile bounds. Other ops are left to `attn-tile`.
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"0",
           "Query rows per tile (0: chosen by the cost model)">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"0",
           "Keys per tile, rounded up to the vector width (0: cost model)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the vector ops (16 for AVX-512, 8 for AVX2; 0: the "
           "target CPU's)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"\"",
           "CPU the code is generated for, as LLVM names it (empty: "
           "x86-64 with AVX2); it sets the cost model's vector width">,
    Option<"targetFeatures", "target-features", "std::string",
           /*default=*/"\"\"",
           "Features added to or removed from the target CPU's: +f,-g">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "Parallel parts of the key axis, merged by lse (0: cost model)">,
    Option<"entmaxRecompute", "entmax-recompute", "bool", /*default=*/"false",
           "entmax: recompute the scores on every pass instead of keeping "
           "them (false: the cost model keeps them up to 16 MiB per query "
           "tile)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def AttnLinearize : Pass<"attn-linearize"> {
  let summary = "Lower attn.linear_aggregate to its O(S) chunked form";
  let description = [{
    Rewrites each `attn.linear_aggregate` into loops over (batch, query
    head) that walk the keys in chunks: quadratic inside a chunk, a [F, Dv]
    state (and an [F] normaliser with `normalize`) carried across chunks,
    re-based to each chunk's end so decay exponents never exceed the chunk
    length (no overflow or underflow at any sequence length). Without
    `causal` the state over all keys is built first (φ(K)ᵀV) and every query
    reads it. Feature maps whose only user is the aggregate (every kind:
    the elementwise ones, taylor2 from the raw row, random_features as
    Wᵀx per row) are applied on load; their [.., F] tensors never exist.
    Each `attn.linear_aggregate_grad` becomes its chunked backward: a
    forward sweep over the chunks (dq, the normalize factors, dλ through the
    state's derivative in λ) and a reverse sweep (dk, dv), O(S) memory.
  }];
  let options = [
    Option<"chunk", "chunk", "int64_t", /*default=*/"0",
           "Positions per chunk (0: chosen by the cost model)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the vector ops (0: the target CPU's)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"\"",
           "CPU the code is generated for, as LLVM names it (empty: "
           "x86-64 with AVX2); it sets the cost model's vector width">,
    Option<"targetFeatures", "target-features", "std::string",
           /*default=*/"\"\"",
           "Features added to or removed from the target CPU's: +f,-g">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def AttnScan : Pass<"attn-scan"> {
  let summary = "Lower attention of one query over every prefix to the scan "
                "form";
  let description = [{
    Rewrites each `attn.attention` whose query rows are all one broadcast
    vector (a `linalg.broadcast`, or a `linalg.generic` copy, over the query
    axis) and whose mask is `#attn.causal` alone -- attention of one query
    over every prefix of the keys, as in Aaren (attention as an RNN) -- into
    the scan form: each key's score once, then a parallel prefix scan of the
    softmax state (max, denominator, numerator) over chunks of keys: local
    chunk states in parallel, an exclusive scan of the chunk states, and a
    parallel rescan that writes each row's output and lse where its prefix
    ends. Work is O(Skv (D + Dv)) instead of the tiled form's O(Sq Skv D).
    score_mod and predicate regions that do not read the query index are
    applied per key; sinks, GQA, Sq != Skv and the `none` and `sigmoid`
    aggregations are supported. Static query lengths up to 8 are left to the
    tiled decode kernel.
  }];
  let options = [
    Option<"chunk", "chunk", "int64_t", /*default=*/"0",
           "Keys per chunk of the parallel scan (0: chosen by the cost "
           "model)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the vector ops (0: the target CPU's)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"\"",
           "CPU the code is generated for, as LLVM names it (empty: "
           "x86-64 with AVX2); it sets the cost model's vector width">,
    Option<"targetFeatures", "target-features", "std::string",
           /*default=*/"\"\"",
           "Features added to or removed from the target CPU's: +f,-g">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnTestTileConfig : Pass<"attn-test-tile-config"> {
  let summary = "Test pass: print the tiled form's kernel shape per attention";
  let description = [{
    Prints, for every `attn.attention` with static head counts and head
    dimensions, the kernel shape the tiled form's cost model
    (`chooseTileConfig`) picks for the given options and target CPU: vector
    width, key and query tile sizes, the layout of the scores, register
    blocking and key splits. The IR is left unchanged. For tests of the
    cost model, e.g. that it follows `target-cpu` and never the machine that
    compiles.
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"0",
           "Query rows per tile (0: cost model)">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"0",
           "Keys per tile (0: cost model)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the vector ops (0: the target CPU's)">,
    Option<"targetCpu", "target-cpu", "std::string", /*default=*/"\"\"",
           "CPU the code is generated for (empty: x86-64 with AVX2)">,
    Option<"targetFeatures", "target-features", "std::string",
           /*default=*/"\"\"",
           "Features added to or removed from the target CPU's: +f,-g">,
    Option<"kvSplits", "kv-splits", "int64_t", /*default=*/"0",
           "Parallel parts of the key axis (0: cost model)">,
  ];
}

def AttnGpuTile : Pass<"attn-gpu-tile"> {
  let summary = "Lower attn.attention and attn.attention_grad to GPU kernels "
                "(gpu.launch)";
  let description = [{
    Rewrites each `attn.attention` (except csr/indices masks, which take the
    gather form) into one `gpu.launch`: blocks over (query tile, query head,
    batch), one thread per query row. The block's key range and the
    empty/full class of each key tile come from the compile-time mask
    analysis: empty tiles are skipped by the whole block, full tiles skip
    the mask. K and V tiles are staged in shared memory as f32; each thread
    keeps its scaled query row and its accumulator as vectors (registers)
    and runs the online softmax over the tile. Masks with run-time data are
    evaluated per element. f32 accumulation for every input type.

    Each `attn.attention_grad` (without captured tensors) becomes four
    launches without atomics: Δ per row, the sinks' gradient per head, dK
    and dV per key block (over the non-empty query tiles of the GQA group,
    staged in shared memory), dQ per query tile (over the visible key
    tiles).

    An entmax `attn.attention` has no GPU kernel of its own: it is unfused
    back into its graph, which `attn-decompose` lowers to naive kernels.
  }];
  let options = [
    Option<"blockQ", "block-q", "int64_t", /*default=*/"0",
           "Query rows (threads) per block (0: chosen by the cost model)">,
    Option<"blockKV", "block-kv", "int64_t", /*default=*/"0",
           "Keys per shared-memory tile (0: chosen by the cost model)">,
    Option<"rowThreads", "row-threads", "int64_t", /*default=*/"0",
           "Threads per query row, summing partial scores by shuffles (0: "
           "chosen by the cost model)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

#endif // ATTN_CONVERSION_PASSES_TD
