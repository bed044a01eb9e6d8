//===- Passes.td - graph-level attn passes -----------------*- tablegen -*-===//
#ifndef ATTN_TRANSFORMS_PASSES_TD
#define ATTN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnFuse : Pass<"attn-fuse"> {
  let summary = "Fuse score/score_mod/mask/aggregate chains into attn.attention";
  let description = [{
    Rewrites every chain `attn.score` → [`attn.score_mod`] → [`attn.mask`] →
    `attn.aggregate` into one `attn.attention` op carrying the score region,
    the mask patterns and predicate, and the aggregation kind. Stages shared
    by several chains (one score feeding several masks) are recomputed by
    each fused chain, as FlashAttention recomputes rather than stores
    scores; a chain whose intermediate result has any other use stays
    unfused, since the dense scores are needed anyway. An entmax aggregate
    carries its `alpha` into the fused op.
  }];
}

def AttnDecompose : Pass<"attn-decompose"> {
  let summary = "Naive reference lowering of every attn op to linalg/tensor/arith";
  let description = [{
    Rewrites each attn op into upstream linalg.generic/tensor/arith/math/scf
    ops on tensors, materialising the full score matrix. This is the slow
    baseline every other form is measured against; it supports every op,
    every mask pattern and dynamic B/Sq/Skv.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def AttnGrad : Pass<"attn-grad", "::mlir::ModuleOp"> {
  let summary = "Add F_grad, the reverse-mode gradient, for public functions";
  let description = [{
    For each selected public function `@F` adds a public `@F_grad`: F's
    arguments, then one cotangent per floating-point result of F (lse
    results included); one gradient per floating-point tensor argument of F,
    in argument order, with that argument's type. Integer and i1 arguments
    get none. The forward is recomputed inside `@F_grad` (fused first, with
    an lse for every softmax), then every op on a path from the arguments to
    the results gets its derivative rule: a fused attention becomes
    `attn.attention_grad`, a linear aggregation `attn.linear_aggregate_grad`,
    the other graph and linalg ops linalg code on tensors. Selection ops
    pass nothing. An op without a rule is an error naming it.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Functions to differentiate (default: every public function)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def AttnRing : Pass<"attn-ring", "::mlir::ModuleOp"> {
  let summary = "Sequence parallelism: every fused attention across the "
                "ranks of MPI_COMM_WORLD (ring attention)";
  let description = [{
    The function is written for one rank's shard of the sequence (Q, K, V,
    segments, outputs and lse hold this rank's positions; `layout` says
    which). Each `attn.attention` becomes a loop of P steps, P read at run
    time with `mpi.comm_size`: the rank posts `mpi.isend` of the K/V block
    in hand (and the key ids of `#attn.segments`) to rank r+1 and
    `mpi.irecv` of the next one from rank r−1 into a second buffer,
    attends to the block in hand with an `attn.attention` carrying the
    chunks' global `positions` (skipped where the mask analysis proves the
    chunk pair empty for every batch and head), merges (O, lse) by
    log-sum-exp, then waits. Sinks are folded in once, after the loop.
    Softmax only; mask patterns must be position patterns,
    `#attn.block_mask` (the sequence's, passed whole and read at global
    positions) or `#attn.segments` (regions see global positions); Sq = Skv.
    Any other
    attn op is an error: it would see only this rank's shard. Run
    `attn-lower-mpi` before the LLVM conversion.

    Each `attn.attention_grad` (from `attn-grad`, its O and lse the forward
    ring's) becomes the backward ring: the same P steps carry K, V and the
    key ids, plus f32 dK and dV that the ranks add their share to and pass
    on once the step's compute is done; after P transfers each block's dK
    and dV are home. dQ accumulates on the rank. The gradients of sinks and
    captured tensors are this rank's partial sums, for the caller to reduce
    over the ranks like any replicated parameter's.

    `decode=true` distributes decoding instead: K, V and the key ids are
    this rank's contiguous shard of the keys, the queries (the last Sq
    positions) and everything else are replicated; each rank attends to its
    keys (with `positions`) and `mpi.allreduce` (max of lse, then sums of
    the weighted outputs and weights) merges the partials on every rank.
    No regions or block masks (they see raw query indices), no gradients.
  }];
  let options = [
    Option<"layout", "layout", "std::string", /*default=*/"\"zigzag\"",
           "Which positions each rank holds: zigzag (chunks r and 2P-1-r of "
           "2P) or contiguous">,
    Option<"decode", "decode", "bool", /*default=*/"false",
           "Decoding across ranks instead: keys and values sharded "
           "contiguously, queries replicated, partial results merged by "
           "an allreduce on every rank">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::cf::ControlFlowDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::mpi::MPIDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def AttnTestMaskAnalysis : Pass<"attn-test-mask-analysis"> {
  let summary = "Test only: print the mask analysis' class of every tile pair";
  let description = [{
    For every `attn.attention` with static Sq and Skv, prints what the mask
    analysis (MaskAnalysis) decides for tiles of `tile-q` queries and
    `tile-kv` keys: per query head and query tile, the key range the tile
    visits and one character per key tile, `.` empty, `F` full, `P`
    partial (`?` where the decision did not fold to a constant). The
    analysis IR is emitted for constant tile bounds and folded, so this is
    what the compiled kernels decide. Batch index 0. The IR is unchanged.
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", /*default=*/"4",
           "Queries per tile">,
    Option<"tileKV", "tile-kv", "int64_t", /*default=*/"4",
           "Keys per tile">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // ATTN_TRANSFORMS_PASSES_TD
