//===- AttnOps.td - attn graph-level ops -------------------*- tablegen -*-===//
#ifndef ATTN_IR_ATTNOPS_TD
#define ATTN_IR_ATTNOPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/IR/OpAsmInterface.td"

def Attn_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Attn_F32Tensor : RankedTensorOf<[F32]>;
def Attn_I32Tensor : RankedTensorOf<[I32]>;
def Attn_I1Tensor : RankedTensorOf<[I1]>;

//===----------------------------------------------------------------------===//
// Score family
//===----------------------------------------------------------------------===//

def Attn_ScoreOp : Attn_Op<"score", [Pure]> {
  let summary = "scaled dot-product scores S = scale * Q K^T";
  let description = [{
    Computes `S[b, h, i, j] = scale * <Q[b, h, i, :], K[b, h / (Hq/Hkv), j, :]>`
    in f32. Hkv must divide Hq (grouped-query attention reads K without copying
    it). `scale` defaults to `1/sqrt(D)`.

    ```mlir
    %s = attn.score %q, %k {scale = 0.125 : f32}
           : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x128xf32>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs Attn_F32Tensor:$scores);
  let assemblyFormat = [{
    $query `,` $key attr-dict `:` type($query) `,` type($key) `->` type($scores)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale in effect: the attribute, or 1/sqrt(D).
    double getEffectiveScale();
  }];
}

def Attn_ScoreModOp : Attn_Op<"score_mod", [Pure, SingleBlock,
    AllTypesMatch<["scores", "result"]>]> {
  let summary = "elementwise score modifier (FlexAttention score_mod)";
  let description = [{
    Applies the region to every score. The region receives the score and the
    raw indices `(b, h, i, j)` (query head h, unaligned query index i) and
    yields the new score. It may read tensors defined above it with
    `tensor.extract` (ALiBi, relative-position tables, edge-feature bias).

    ```mlir
    %t = attn.score_mod %s : tensor<1x8x128x128xf32> {
    ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
      %c = arith.constant 30.0 : f32
      %y = arith.divf %x, %c : f32
      %z = math.tanh %y : f32
      %w = arith.mulf %z, %c : f32
      attn.yield %w : f32
    }
    ```
  }];
  let arguments = (ins Attn_F32Tensor:$scores);
  let results = (outs Attn_F32Tensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$scores attr-dict `:` type($scores) $body";
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Mask family
//===----------------------------------------------------------------------===//

def Attn_MaskOp : Attn_Op<"mask", [Pure, AllTypesMatch<["scores", "result"]>]> {
  let summary = "mask scores with the intersection of patterns";
  let description = [{
    Sets masked scores to -inf. The patterns in the list and the optional
    predicate region are intersected; `#attn.any<[...]>` is a union. Dynamic
    patterns consume the tensor operands in order. The predicate region
    receives the raw indices `(b, h, i, j)` and yields `i1` (true = keep).

    ```mlir
    %m = attn.mask %s [#attn.causal] : tensor<1x8x128x128xf32>
    %m = attn.mask %s [#attn.causal, #attn.segments] (%qseg, %kseg)
           : tensor<1x8x128x128xf32>, tensor<1x128xi32>, tensor<1x128xi32>
    %m = attn.mask %s [] : tensor<1x8x128x128xf32> {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %keep = arith.cmpi uge, %i, %j : index
      attn.yield %keep : i1
    }
    ```
  }];
  let arguments = (ins Attn_F32Tensor:$scores, ArrayAttr:$patterns,
                       Variadic<AnyRankedTensor>:$maskOperands);
  let results = (outs Attn_F32Tensor:$result);
  let regions = (region AnyRegion:$predicate);
  let assemblyFormat = [{
    $scores $patterns (` ` `(` $maskOperands^ `)`)? attr-dict `:` type($scores)
    (`,` type($maskOperands)^)? ($predicate^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The mask operands consumed by each top-level pattern, in order.
    SmallVector<OperandRange> getOperandsPerPattern();
  }];
}

//===----------------------------------------------------------------------===//
// Aggregation family
//===----------------------------------------------------------------------===//

def Attn_AggregateOp : Attn_Op<"aggregate", [Pure]> {
  let summary = "turn scores into weights and aggregate values";
  let description = [{
    `softmax`: O = softmax(S) V with an optional log-sum-exp result and
    optional per-query-head sink logits that join the denominator.
    `sigmoid`: O = sigmoid(S) V (no normalisation). `none`: O = S V with
    masked scores as weight 0. `entmax` (attribute `alpha` > 1):
    p_ij = [(alpha - 1) s_ij - tau_i]_+^(1 / (alpha - 1)), tau_i the threshold
    that makes the row sum 1; low scores get exactly 0 (alpha = 2 is
    sparsemax; no lse result, no sinks). A row whose every key is masked
    yields 0 and lse -inf.

    ```mlir
    %o = attn.aggregate softmax %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
    %o, %lse = attn.aggregate softmax %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
    %o = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
    %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
    ```
  }];
  let arguments = (ins Attn_AggregationKind:$kind, Attn_F32Tensor:$scores,
                       Attn_FloatTensor:$value,
                       Optional<Attn_F32Tensor>:$sinks,
                       OptionalAttr<F32Attr>:$alpha);
  let results = (outs Attn_FloatTensor:$output, Optional<Attn_F32Tensor>:$lse);
  let assemblyFormat = [{
    $kind $scores `,` $value (`sinks` `(` $sinks^ `)`)? attr-dict `:`
    type($scores) `,` type($value) (`,` type($sinks)^)? `->` type($output)
    (`,` type($lse)^)?
  }];
  let hasVerifier = 1;
}

def Attn_NormalizeOp : Attn_Op<"normalize", [Pure, AllTypesMatch<["scores", "result"]>]> {
  let summary = "the attention distribution itself";
  let description = [{
    Returns the weights that `attn.aggregate` of the same kind would apply:
    `softmax` and `entmax` rows sum to 1 (a fully masked row is all 0).

    ```mlir
    %p = attn.normalize softmax %m : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
    %p = attn.normalize entmax %m {alpha = 2.0 : f32} : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
    ```
  }];
  let arguments = (ins Attn_AggregationKind:$kind, Attn_F32Tensor:$scores,
                       OptionalAttr<F32Attr>:$alpha);
  let results = (outs Attn_F32Tensor:$result);
  let assemblyFormat = [{
    $kind $scores attr-dict `:` type($scores) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_MergeOp : Attn_Op<"merge", [Pure]> {
  let summary = "merge partial attention results by log-sum-exp";
  let description = [{
    Operands are (O, lse) pairs over disjoint key sets; the result is the
    attention over their union and its lse. Pairs whose lse is -inf
    contribute nothing; if every lse is -inf the output is 0 and lse -inf.

    ```mlir
    %o, %lse = attn.merge %o1, %lse1, %o2, %lse2 : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$partials);
  let results = (outs Attn_FloatTensor:$output, Attn_F32Tensor:$lse);
  let assemblyFormat = [{
    $partials attr-dict `:` type($partials) `->` type($output) `,` type($lse)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear family
//===----------------------------------------------------------------------===//

def Attn_FeatureMapOp : Attn_Op<"feature_map", [Pure]> {
  let summary = "feature map of linear attention";
  let description = [{
    `identity`, `elu_plus_one`, `relu`, `exp`, `sigmoid` act elementwise;
    `taylor2` maps x to [1, x, (x ⊗ x)/sqrt(2)] (F = 1 + D + D²);
    `random_features` maps x to exp(Wᵀx − ‖x‖²/2)/sqrt(F) with W `[D, F]`.
    No internal scaling is applied.

    ```mlir
    %fq = attn.feature_map elu_plus_one %q : tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
    %fr = attn.feature_map random_features %q, %w : tensor<1x8x128x64xf32>, tensor<64x256xf32> -> tensor<1x8x128x256xf32>
    ```
  }];
  let arguments = (ins Attn_FeatureMapKind:$kind, Attn_FloatTensor:$input,
                       Optional<Attn_FloatTensor>:$weights);
  let results = (outs Attn_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input (`,` $weights^)? attr-dict `:` type($input)
    (`,` type($weights)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_LinearAggregateOp : Attn_Op<"linear_aggregate",
                                     [Pure, AttrSizedOperandSegments]> {
  let summary = "linear attention with optional causal decay";
  let description = [{
    O_i = Σ_{j∈N(i)} λ_h^{i'−j} (φq_i·φk_j) v_j, divided by
    Σ_{j∈N(i)} λ_h^{i'−j} φq_i·φk_j + eps with `normalize`. N(i) is all keys,
    or the aligned-causal keys with `causal`. `decay` (one λ per query head)
    requires `causal`. No scale is applied; GQA head mapping as for attention.

    ```mlir
    %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
    %o = attn.linear_aggregate %q, %k, %v decay(%lambda) {causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
    ```

    Recurrent use (an addition to the contract): `state(%s0 : tensor<B x Hq
    x F x Dv x f32>)` stands for the keys of earlier calls, summarised as
    S0 = Σ_{j<0} λ^{−1−j} φk_jᵀ v_j (positions before this call's first
    key). A query at aligned position i' ≥ −1 adds λ^{i'+1} φq_i S0 to its
    output, and the op's second result is the state after this call's keys,
    λ^{Skv} S0 + Σ_j λ^{Skv−1−j} φk_jᵀ v_j, to pass to the next call. Calls
    on consecutive pieces of a sequence thus equal one call on all of it;
    decoding token by token costs O(1) per token. Requires `causal`, not
    `normalize`.

    ```mlir
    %o, %s1 = attn.linear_aggregate %q, %k, %v decay(%lambda) state(%s0 : tensor<1x8x64x64xf32>) {causal} : tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<1x8x1x64xf32>, tensor<8xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value, Optional<Attn_F32Tensor>:$decay,
                       Optional<Attn_F32Tensor>:$state,
                       UnitAttr:$causal, UnitAttr:$normalize,
                       DefaultValuedAttr<F32Attr, "1e-6">:$eps);
  let results = (outs Attn_FloatTensor:$output,
                      Optional<Attn_F32Tensor>:$final_state);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`decay` `(` $decay^ `)`)?
    (`state` `(` $state^ `:` type($state) `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) (`,` type($decay)^)?
    `->` type($output) (`,` type($final_state)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Selection family
//===----------------------------------------------------------------------===//

def Attn_SelectBlocksOp : Attn_Op<"select_blocks", [Pure, AttrSizedOperandSegments]> {
  let summary = "keep the top_k key blocks per query block";
  let description = [{
    Scores each (query block, key block) pair by pooled Q · pooled K (`pool`
    is "mean" or "max"; a partial last block pools the rows it has) and keeps
    the top_k key blocks per query block (ties go to the smaller index).
    `reps(%r)` (`[B, Hkv|Hq, nKb, R]`) and `qreps(%p)` (`[B, Hq, nQb, R]`)
    replace the pooled keys and queries. With `causal`, a key block is a
    candidate only if its first key is visible to the query block's last
    query. The result is an i1 block mask `[B, Hq, nQb, nKb]`.

    ```mlir
    %bm = attn.select_blocks %q, %k {block_q = 64, block_kv = 64, top_k = 2, pool = "mean", causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x2x2xi1>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Optional<Attn_FloatTensor>:$reps,
                       Optional<Attn_FloatTensor>:$qreps,
                       I64Attr:$block_q, I64Attr:$block_kv, I64Attr:$top_k,
                       DefaultValuedStrAttr<StrAttr, "mean">:$pool,
                       UnitAttr:$causal);
  let results = (outs Attn_I1Tensor:$blocks);
  let assemblyFormat = [{
    $query `,` $key (`reps` `(` $reps^ `)`)? (`qreps` `(` $qreps^ `)`)?
    attr-dict `:` type($query) `,` type($key)
    custom<RepTypes>(ref($reps), ref($qreps), type($reps), type($qreps))
    `->` type($blocks)
  }];
  let hasVerifier = 1;
}

def Attn_SelectTopkOp : Attn_Op<"select_topk", [Pure]> {
  let summary = "indices of the top_k keys per query row";
  let description = [{
    Returns i32 `[B, H, Sq, top_k]`: the keys with the largest scores in
    descending order (ties go to the smaller index). Masked (-inf) keys are
    never chosen; unused slots hold -1.

    ```mlir
    %idx = attn.select_topk %s {top_k = 16} : tensor<1x8x128x128xf32> -> tensor<1x8x128x16xi32>
    ```
  }];
  let arguments = (ins Attn_F32Tensor:$scores, I64Attr:$top_k);
  let results = (outs Attn_I32Tensor:$indices);
  let assemblyFormat = [{
    $scores attr-dict `:` type($scores) `->` type($indices)
  }];
  let hasVerifier = 1;
}

def Attn_ClusterOp : Attn_Op<"cluster", [Pure]> {
  let summary = "nearest centroid per token";
  let description = [{
    `cid[b, h, s] = argmin_c ‖x[b, h, s] − centroids[h, c]‖²` (ties go to the
    smaller index). Centroids are `[H|1, C, D]`.

    ```mlir
    %cid = attn.cluster %x, %centroids : tensor<1x8x128x64xf32>, tensor<8x4x64xf32> -> tensor<1x8x128xi32>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$centroids);
  let results = (outs Attn_I32Tensor:$ids);
  let assemblyFormat = [{
    $input `,` $centroids attr-dict `:` type($input) `,` type($centroids)
    `->` type($ids)
  }];
  let hasVerifier = 1;
}

def Attn_LshOp : Attn_Op<"lsh", [Pure]> {
  let summary = "locality-sensitive hash bucket per token";
  let description = [{
    Bit p (least significant first) of the bucket id is set iff
    `<x[b, h, s], planes[:, p]> > 0`. Planes are `[D, P]` with P <= 31.

    ```mlir
    %bid = attn.lsh %x, %planes : tensor<1x8x128x64xf32>, tensor<64x3xf32> -> tensor<1x8x128xi32>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$input, Attn_FloatTensor:$planes);
  let results = (outs Attn_I32Tensor:$buckets);
  let assemblyFormat = [{
    $input `,` $planes attr-dict `:` type($input) `,` type($planes)
    `->` type($buckets)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused level
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "fused attention: score, score_mod, mask and aggregation";
  let description = [{
    One attention computation: `aggregate(mask(score_mod(score(Q, K))), V)`.
    It carries the mask patterns (with their dynamic operands), an optional
    score_mod region (as `attn.score_mod`), an optional predicate region (as
    `attn.mask`), the aggregation kind and optional sinks. `attn-fuse`
    produces it from the graph ops; users may also write it directly. The
    semantics are exactly those of the equivalent graph. `entmax` takes its
    `alpha` attribute as in `attn.aggregate` (no lse result, no sinks).

    `positions(%qp, %kp)` (two `index` values, `softmax` only) places the
    operands in a longer sequence: query i is at position %qp + i and key j
    at %kp + j. Position patterns see those positions instead of the
    bottom-right alignment, and the regions receive them instead of the raw
    indices; run-time mask data (segments) is still addressed by i and j.
    `attn-ring` produces it for one block of a sequence-parallel ring; the
    tiled and block-sparse CPU forms lower it.

    ```mlir
    %o, %lse = attn.attention softmax %q, %k, %v [#attn.causal, #attn.block_mask<block_q = 64, block_kv = 64>]
                 (%bm : tensor<1x8x2x2xi1>) sinks(%sk : tensor<8xf32>) {scale = 0.125 : f32}
                 : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>
                 -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
      score_mod {
      ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
        attn.yield %x : f32
      }
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %t = arith.constant true
        attn.yield %t : i1
      }
    ```
  }];
  let arguments = (ins Attn_AggregationKind:$kind, Attn_FloatTensor:$query,
                       Attn_FloatTensor:$key, Attn_FloatTensor:$value,
                       ArrayAttr:$patterns,
                       Variadic<AnyRankedTensor>:$maskOperands,
                       Optional<Attn_F32Tensor>:$sinks,
                       Variadic<Index>:$positions,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$alpha);
  let results = (outs Attn_FloatTensor:$output, Optional<Attn_F32Tensor>:$lse);
  let regions = (region AnyRegion:$scoreMod, AnyRegion:$predicate);
  let assemblyFormat = [{
    $kind $query `,` $key `,` $value $patterns
    (` ` `(` $maskOperands^ `:` type($maskOperands) `)`)?
    (`sinks` `(` $sinks^ `:` type($sinks) `)`)?
    (`positions` `(` $positions^ `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) `->` type($output)
    (`,` type($lse)^)? (`score_mod` $scoreMod^)? (`mask` $predicate^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale in effect: the attribute, or 1/sqrt(D).
    double getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// Gradient family (produced by attn-grad)
//===----------------------------------------------------------------------===//

def Attn_AttentionGradOp : Attn_Op<"attention_grad",
    [Pure, AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "backward of a fused attention (FlashAttention-2 style)";
  let description = [{
    The vector-Jacobian product of an `attn.attention` with the same kind,
    patterns, mask operands, sinks, scale and regions. Given the forward's
    output O (and lse, required for `softmax`), the output cotangent dO and
    optionally the lse cotangent, it returns dQ, dK and dV (with the types of
    Q, K and V), d(sinks) when sinks are present, and one gradient per
    `captures` tensor: the float tensors the score_mod region reads with
    `tensor.extract`, accumulated at the indices read. `attn-grad` produces
    it; the forms lower it without materialising an S×S tensor (P is
    recomputed from lse) and skip the tiles the forward skips.

    ```mlir
    %dq, %dk, %dv = attn.attention_grad softmax %q, %k, %v, %o, %do [#attn.causal]
                      lse(%lse : tensor<1x8x128xf32>)
                      : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>,
                        tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>
                      -> tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>
    ```

    Optional results are spelled like their operands:
    `-> dQ, dK, dV sinks(tensor<8xf32>) captures(tensor<8x128x128xf32>)`.

    `positions(%qp, %kp)` places the operands as in `attn.attention`: query
    i at `%qp + i`, key j at `%kp + j` (attn-ring's blocks). Then O, lse and
    their cotangents are the rows' results over the whole sequence, and the
    op returns this block's share of dQ, dK, dV and of the captures'
    gradient, which sum over the blocks; `sinks` are not allowed (their
    gradient is per row, not per block).
  }];
  let arguments = (ins Attn_AggregationKind:$kind, Attn_FloatTensor:$query,
                       Attn_FloatTensor:$key, Attn_FloatTensor:$value,
                       Attn_FloatTensor:$output, Attn_FloatTensor:$gradOutput,
                       ArrayAttr:$patterns,
                       Variadic<AnyRankedTensor>:$maskOperands,
                       Optional<Attn_F32Tensor>:$lse,
                       Optional<Attn_F32Tensor>:$gradLse,
                       Optional<Attn_F32Tensor>:$sinks,
                       Variadic<Attn_FloatTensor>:$captures,
                       Variadic<Index>:$positions,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs Attn_FloatTensor:$gradQuery, Attn_FloatTensor:$gradKey,
                      Attn_FloatTensor:$gradValue,
                      Optional<Attn_F32Tensor>:$gradSinks,
                      Variadic<Attn_FloatTensor>:$gradCaptures);
  let regions = (region AnyRegion:$scoreMod, AnyRegion:$predicate);
  let assemblyFormat = [{
    $kind $query `,` $key `,` $value `,` $output `,` $gradOutput $patterns
    (` ` `(` $maskOperands^ `:` type($maskOperands) `)`)?
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`grad_lse` `(` $gradLse^ `:` type($gradLse) `)`)?
    (`sinks` `(` $sinks^ `:` type($sinks) `)`)?
    (`captures` `(` $captures^ `:` type($captures) `)`)?
    (`positions` `(` $positions^ `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,` type($output) `,`
    type($gradOutput) `->` type($gradQuery) `,` type($gradKey) `,`
    type($gradValue) (`sinks` `(` type($gradSinks)^ `)`)?
    (`captures` `(` type($gradCaptures)^ `)`)?
    (`score_mod` $scoreMod^)? (`mask` $predicate^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale in effect: the attribute, or 1/sqrt(D).
    double getEffectiveScale();
  }];
}

def Attn_LinearAggregateGradOp : Attn_Op<"linear_aggregate_grad", [Pure]> {
  let summary = "backward of attn.linear_aggregate";
  let description = [{
    The vector-Jacobian product of an `attn.linear_aggregate` with the same
    attributes and decay (no `state`). Given the forward's output O and its
    cotangent dO, it returns dQ, dK and dV (with the types of the feature
    inputs and V) and dλ when `decay` is present. `attn-grad` produces it;
    `attn-linearize` lowers it to a chunked O(S) backward.

    ```mlir
    %dq, %dk, %dv, %dl = attn.linear_aggregate_grad %q, %k, %v, %o, %do decay(%lambda) {causal}
        : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>,
          tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32>
        -> tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32>
    ```
  }];
  let arguments = (ins Attn_FloatTensor:$query, Attn_FloatTensor:$key,
                       Attn_FloatTensor:$value, Attn_FloatTensor:$output,
                       Attn_FloatTensor:$gradOutput,
                       Optional<Attn_F32Tensor>:$decay,
                       UnitAttr:$causal, UnitAttr:$normalize,
                       DefaultValuedAttr<F32Attr, "1e-6">:$eps);
  let results = (outs Attn_FloatTensor:$gradQuery, Attn_FloatTensor:$gradKey,
                      Attn_FloatTensor:$gradValue,
                      Optional<Attn_F32Tensor>:$gradDecay);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $gradOutput
    (`decay` `(` $decay^ `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,` type($output) `,`
    type($gradOutput) (`,` type($decay)^)? `->` type($gradQuery) `,`
    type($gradKey) `,` type($gradValue) (`,` type($gradDecay)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Terminator
//===----------------------------------------------------------------------===//

def Attn_YieldOp : Attn_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["ScoreModOp", "MaskOp", "AttentionOp",
                "AttentionGradOp"]>]> {
  let summary = "yields the value of a score_mod or mask region";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // ATTN_IR_ATTNOPS_TD
