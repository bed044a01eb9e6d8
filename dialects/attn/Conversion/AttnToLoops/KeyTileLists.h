//===- KeyTileLists.h - run-time key-tile lists of sparse masks -*- C++ -*-===//
//
// The block-sparse form: masks with tile-level dynamic patterns (block_mask,
// segments, rows) are compacted at run time, before the attention loops,
// into per-(batch, query head, query tile) lists of the key tiles to visit.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_ATTNTOLOOPS_KEYTILELISTS_H
#define ATTN_CONVERSION_ATTNTOLOOPS_KEYTILELISTS_H

#include "attn/IR/AttnOps.h"
#include "attn/Kernel/KernelBuilder.h"
#include "attn/Transforms/MaskAnalysis.h"

namespace mlir::attn {

/// How a listed key tile is masked.
enum class KeyTileState : int64_t {
  /// Every key visible to every query: no mask.
  Full = 0,
  /// The dynamic patterns keep the whole tile; only the static patterns
  /// and the predicate need evaluating.
  StaticPartial = 1,
  /// The whole mask needs evaluating.
  Partial = 2,
};

/// A list entry packs a key tile and its KeyTileState as
/// `kt * kKeyTileEntryStride + state`.
constexpr int64_t kKeyTileEntryStride = 4;

/// The list entry (index) of key tile `kt` in `state` (index values).
Value encodeKeyTileEntry(KernelBuilder &k, Value kt, Value state);

/// The key tile of list entry `entry` (index values).
Value decodeKeyTile(KernelBuilder &k, Value entry);

/// The KeyTileState of list entry `entry` (index values).
Value decodeKeyTileState(KernelBuilder &k, Value entry);

/// Whether `op`'s mask has a tile-level pattern (block_mask, segments,
/// rows: MaskDataKind::TileLevel).
bool hasTileLevelPatterns(AttentionOp op);
bool hasTileLevelPatterns(ArrayAttr patterns);

/// `op`'s patterns without the tile-level ones.
ArrayAttr nonTileLevelPatterns(AttentionOp op);
ArrayAttr nonTileLevelPatterns(ArrayAttr patterns);

/// Key-tile lists, as memrefs: `counts` [B, Hq, NQT] and `tiles`
/// [B, Hq, NQT, NKT], i32; entry n < counts[b, h, qt] of tiles[b, h, qt] is
/// encodeKeyTileEntry(kt, state) for key tile kt (keys [kt * Bc,
/// (kt + 1) * Bc)) in ascending kt order.
struct KeyTileLists {
  Value counts, tiles;
  /// With one `#attn.segments` and no other tile-level pattern, queries and
  /// keys are visited in the order of a stable sort by segment id (bucket
  /// ids of cluster/LSH attention come in any order): `queryOrder`
  /// [B, Hs, Sq] and `keyOrder` [B, Hs, Skv] (i32) map positions of the
  /// sorted order to query and key indices, for the ids' head axis Hs (1 or
  /// Hq). Lists then refer to tiles of the sorted order. Null otherwise.
  Value queryOrder, keyOrder;
  bool orderPerHead = false;
};

/// Emits the compaction: for every query tile of `br` rows, the key tiles of
/// `bc` keys that `analysis` (the static patterns and the predicate) does not
/// prove empty and that the tile-level patterns of `op` keep. Segment ids are
/// first reduced to per-key-tile [min, max] ranges; block masks are read at
/// their own block size, which need not match the tiles. Where the
/// segments are sorted (see KeyTileLists), the static patterns classify
/// tiles only for the (batch, head)s whose ids were already in order; in
/// the others their tiles are partial.
KeyTileLists buildKeyTileLists(KernelBuilder &k, AttentionOp op,
                               const MaskAnalysis &analysis, int64_t br,
                               int64_t bc, Value batch, int64_t hq, Value sq,
                               Value skv);

/// The same lists for the mask `patterns` with `maskOperands` (tensors), with
/// queries and keys in place: no sorted segments, no live rows first, so the
/// orders of KeyTileLists are null and tiles are tiles of indices.
/// `positions` are a positioned op's (query, key) bases, or empty (the
/// bottom-right Skv − Sq, block masks read at indices).
KeyTileLists buildKeyTileListsInPlace(KernelBuilder &k, ArrayAttr patterns,
                                      ValueRange maskOperands,
                                      const MaskAnalysis &analysis, int64_t br,
                                      int64_t bc, Value batch, int64_t hq,
                                      Value sq, Value skv,
                                      ValueRange positions = {});

/// Query-tile lists, the transposed key-tile lists: `counts` [B, Hq, NKT]
/// and `tiles` [B, Hq, NKT, NQT], i32; entry n < counts[b, h, kt] of
/// tiles[b, h, kt] is encodeKeyTileEntry(qt, state) (the same packing, of a
/// query tile) for query tile qt in ascending qt order, with the state of
/// the pair (qt, kt) in the key-tile lists.
struct QueryTileLists {
  Value counts, tiles;
};

/// The in-place key-tile lists of `patterns` (buildKeyTileListsInPlace),
/// transposed: one sequential pass per (batch, head) walks the query tiles
/// in order, so the result does not depend on the thread count. For the
/// backward (attn.attention_grad), which walks key tiles in its outer loop.
QueryTileLists buildQueryTileLists(KernelBuilder &k, ArrayAttr patterns,
                                   ValueRange maskOperands,
                                   const MaskAnalysis &analysis, int64_t br,
                                   int64_t bc, Value batch, int64_t hq,
                                   Value sq, Value skv,
                                   ValueRange positions = {});

/// Whether `patterns` has a key-list pattern (csr, indices:
/// MaskDataKind::KeyList).
bool hasKeyListPatterns(ArrayAttr patterns);

/// The query-tile lists of the first key-list pattern (csr or indices) of
/// `patterns`, at the tile level: pair (qt, kt) is listed iff a key of kt
/// is listed for some row of qt and `analysis` does not prove the pair
/// empty; every entry is KeyTileState::Partial (the whole mask is evaluated
/// per element). One sequential pass per (batch, head) over the query tiles
/// in order, marking the key tiles of each tile's listed keys.
QueryTileLists buildKeyListQueryTileLists(KernelBuilder &k, ArrayAttr patterns,
                                          ValueRange maskOperands,
                                          const MaskAnalysis &analysis,
                                          int64_t br, int64_t bc, Value batch,
                                          int64_t hq, Value sq, Value skv);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_ATTNTOLOOPS_KEYTILELISTS_H
