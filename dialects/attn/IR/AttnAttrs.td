//===- AttnAttrs.td - attn attributes and enums ------------*- tablegen -*-===//
#ifndef ATTN_IR_ATTNATTRS_TD
#define ATTN_IR_ATTNATTRS_TD

include "attn/IR/AttnBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Attn_AggregationKind : I32EnumAttr<"AggregationKind",
    "how masked scores become weights", [
      I32EnumAttrCase<"softmax", 0>,
      I32EnumAttrCase<"sigmoid", 1>,
      I32EnumAttrCase<"none", 2>,
      I32EnumAttrCase<"entmax", 3>]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_FeatureMapKind : I32EnumAttr<"FeatureMapKind",
    "feature map of linear attention", [
      I32EnumAttrCase<"identity", 0>,
      I32EnumAttrCase<"elu_plus_one", 1>,
      I32EnumAttrCase<"relu", 2>,
      I32EnumAttrCase<"exp", 3>,
      I32EnumAttrCase<"sigmoid", 4>,
      I32EnumAttrCase<"taylor2", 5>,
      I32EnumAttrCase<"random_features", 6>]> {
  let cppNamespace = "::mlir::attn";
}

//===----------------------------------------------------------------------===//
// Mask patterns
//===----------------------------------------------------------------------===//

def Attn_MaskPatternAttrInterface : AttrInterface<"MaskPatternAttrInterface"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    A mask pattern: a predicate over (b, h, i, j) that `attn.mask` intersects
    with its other patterns. Dynamic patterns consume tensor operands of the
    mask op, in order; the hooks that take operands get the pattern's own.
    Every pattern implements its hooks in lib/IR/MaskPatterns.cpp (which
    says how to add a pattern); the helper types are in
    attn/IR/MaskPatterns.h.
  }];
  let methods = [
    InterfaceMethod<"Number of dynamic operands the pattern consumes.",
      "unsigned", "getNumMaskOperands", (ins), [{}], [{ return 0; }]>,
    InterfaceMethod<[{
        What the pattern reads besides the positions, which decides the
        forms that can skip work for it.
      }],
      "::mlir::attn::MaskDataKind", "getDataKind", (ins), [{}],
      [{ return ::mlir::attn::MaskDataKind::Position; }]>,
    InterfaceMethod<[{
        Emits the keep predicate (i1) of one element.
      }],
      "::mlir::Value", "buildKeep",
      (ins "::mlir::attn::MaskEmitter &":$e,
           "const ::mlir::attn::MaskElement &":$element,
           "::mlir::ValueRange":$operands)>,
    InterfaceMethod<[{
        Emits the keys that can be visible to some query of `tile` and
        whether keys [jLo, jHi] (inclusive) are empty or full for it; as
        arithmetic on the symbolic bounds, valid for any Sq and Skv.
        Patterns that cannot tell return `e.unknown()` (every tile partial).
      }],
      "::mlir::attn::TileBounds", "classifyTile",
      (ins "::mlir::attn::MaskEmitter &":$e,
           "const ::mlir::attn::QueryTile &":$tile, "::mlir::Value":$jLo,
           "::mlir::Value":$jHi),
      [{}], [{ return e.unknown(); }]>,
    InterfaceMethod<[{
        Whether the keys visible to one query form one interval, which
        classifyTile gives exactly for a tile of that single query.
      }],
      "bool", "hasRowInterval", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<[{
        Checks the pattern's operands against the scores shape
        [B, Hq, Sq, Skv] (dynamic sizes are skipped).
      }],
      "void", "checkOperandShapes",
      (ins "::mlir::attn::ShapeChecker &":$checker,
           "::llvm::ArrayRef<int64_t>":$scores,
           "::mlir::ValueRange":$operands),
      [{}], [{ return; }]>,
  ];
}

class Attn_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Attn_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

/// A pattern over positions only; `overrides` names the defaulted hooks it
/// implements besides classifyTile and hasRowInterval.
class Attn_StaticPattern<string name, string attrMnemonic,
                         list<string> overrides = []>
    : Attn_Attr<name, attrMnemonic, [DeclareAttrInterfaceMethods<
        Attn_MaskPatternAttrInterface,
        !listconcat(["classifyTile", "hasRowInterval"], overrides)>]>;

/// A pattern reading `numOperands` operands, of data kind `dataKind` (a
/// MaskDataKind enumerator).
class Attn_DynamicPattern<string name, string attrMnemonic, int numOperands,
                          string dataKind>
    : Attn_Attr<name, attrMnemonic, [DeclareAttrInterfaceMethods<
        Attn_MaskPatternAttrInterface, ["checkOperandShapes"]>]> {
  let extraClassDeclaration = "unsigned getNumMaskOperands() const { return "
                              # numOperands # "; }\n"
                              # "::mlir::attn::MaskDataKind getDataKind() "
                              # "const { return ::mlir::attn::MaskDataKind::"
                              # dataKind # "; }";
}

def Attn_CausalAttr : Attn_StaticPattern<"Causal", "causal"> {
  let summary = "aligned (bottom-right) causal mask";
  let description = [{
    Key j is visible to query i iff `j <= i + (Skv - Sq)`.
  }];
}

def Attn_WindowAttr : Attn_StaticPattern<"Window", "window",
                                          ["checkOperandShapes"]> {
  let summary = "sliding window on the aligned diagonal";
  let description = [{
    `#attn.window<left = L, right = R>`: key j is visible to query i iff
    `i' - L <= j <= i' + R` with `i' = i + (Skv - Sq)`. `L` and `R` are each
    one non-negative integer for every head or a list of exactly Hq integers,
    one per query head: `#attn.window<left = [64, 128, 256, 512], right = 0>`.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$left,
                        ArrayRefParameter<"int64_t">:$right,
                        "bool":$leftPerHead, "bool":$rightPerHead);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The span for query head `head` (a single value applies to every head).
    int64_t getLeftFor(int64_t head) const {
      return getLeftPerHead() ? getLeft()[head] : getLeft()[0];
    }
    int64_t getRightFor(int64_t head) const {
      return getRightPerHead() ? getRight()[head] : getRight()[0];
    }
  }];
}

def Attn_ChunkAttr : Attn_StaticPattern<"Chunk", "chunk"> {
  let summary = "chunked attention: floor(i'/C) == floor(j/C)";
  let parameters = (ins "int64_t":$size);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_SinkAttr : Attn_StaticPattern<"Sink", "sink"> {
  let summary = "the first `count` keys are always visible";
  let parameters = (ins "int64_t":$count);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_PrefixAttr : Attn_StaticPattern<"Prefix", "prefix"> {
  let summary = "prefix-LM: bidirectional over the first P keys, causal after";
  let description = [{
    Key j is visible to query i iff `j < P` or `j <= i'` (aligned causal).
  }];
  let parameters = (ins "int64_t":$length);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_BlockLocalAttr : Attn_StaticPattern<"BlockLocal", "block_local"> {
  let summary = "blocked local attention with a halo (HaloNet, 1-D)";
  let description = [{
    Query i' in block `b = floor(i'/B)` sees keys in
    `[b*B - halo, (b+1)*B + halo)`.
  }];
  let parameters = (ins "int64_t":$block, "int64_t":$halo);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_AnyAttr : Attn_Attr<"Any", "any", [DeclareAttrInterfaceMethods<
    Attn_MaskPatternAttrInterface, ["getNumMaskOperands", "getDataKind",
    "classifyTile", "checkOperandShapes"]>]> {
  let summary = "union of mask patterns";
  let parameters = (ins "::mlir::ArrayAttr":$patterns);
  let assemblyFormat = "`<` $patterns `>`";
  let genVerifyDecl = 1;
}

def Attn_BlockMaskAttr : Attn_DynamicPattern<"BlockMask", "block_mask", 1,
                                             "TileLevel"> {
  let summary = "block-sparse mask given as an i1 tensor over blocks";
  let description = [{
    Operand: i1 `[B|1, H|1, ceil(Sq/block_q), ceil(Skv/block_kv)]`; key j
    is visible to query i iff `bm[b, h, i / block_q, j / block_kv]`.
  }];
  let parameters = (ins "int64_t":$block_q, "int64_t":$block_kv);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_SegmentsAttr : Attn_DynamicPattern<"Segments", "segments", 2,
                                            "TileLevel"> {
  let summary = "document masking: equal segment ids";
  let description = [{
    Operands: i32 `[B, Sq]` and `[B, Skv]` (or `[B, H, Sq]`/`[B, H, Skv]`
    per query head); visible iff `qseg[b, i] == kseg[b, j]`.
  }];
}

def Attn_CsrAttr : Attn_DynamicPattern<"Csr", "csr", 2, "KeyList"> {
  let summary = "graph adjacency in CSR form";
  let description = [{
    Operands: i32 row pointers `[Sq+1]` and column indices `[nnz]`, shared
    by every batch and head, sorted and unique within a row.
  }];
}

def Attn_IndicesAttr : Attn_DynamicPattern<"Indices", "indices", 1, "KeyList"> {
  let summary = "per-query key index lists";
  let description = [{
    Operand: i32 `[B, Hq, Sq, k]`; key j is visible to query i iff j is one
    of the k indices of the row (-1 marks an unused slot).
  }];
}

def Attn_RowsAttr : Attn_DynamicPattern<"Rows", "rows", 1, "TileLevel"> {
  let summary = "rows that are computed at all";
  let description = [{
    Operand: i1 `[B, Hq, Sq]`; a false row is not computed: output 0 and lse
    -inf, like a fully masked row.
  }];
}

def Attn_DenseAttr : Attn_DynamicPattern<"Dense", "dense", 1, "Element"> {
  let summary = "dense boolean mask";
  let description = [{
    Operand: i1 `[B|1, H|1, Sq, Skv]`.
  }];
}

#endif // ATTN_IR_ATTNATTRS_TD
