//===- AttnBase.td - attn dialect definition ---------------*- tablegen -*-===//
#ifndef ATTN_IR_ATTNBASE_TD
#define ATTN_IR_ATTNBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "A graph-level dialect for attention mechanisms.";
  let description = [{
    Attention is written as a small dataflow graph of **score**, **mask** and
    **aggregation** ops on ranked tensors (Q `[B, Hq, Sq, D]`, K
    `[B, Hkv, Skv, D]`, V `[B, Hkv, Skv, Dv]`). Pass pipelines rewrite the
    graph into an execution form and lower it to CPU or GPU code. Query
    head h reads K/V head h / (Hq / Hkv); causal masks and windows are
    aligned bottom-right (query i sits at position i + Skv - Sq); masked
    scores are -inf, and a row with every key masked yields output 0 and lse
    -inf, never NaN; scores, statistics and accumulators are f32. The full
    language reference is docs/language.md in the attn repository.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_IR_ATTNBASE_TD
