//===- Passes.h - passes over lowered IR (no attn ops) ----------*- C++ -*-===//
#ifndef ATTN_LOWERING_PASSES_H
#define ATTN_LOWERING_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "attn/Lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Lowering/Passes.h.inc"

} // namespace mlir::attn

#endif // ATTN_LOWERING_PASSES_H
