//===- AttnAttrs.h - attn attributes ----------------------------*- C++ -*-===//
#ifndef ATTN_IR_ATTNATTRS_H
#define ATTN_IR_ATTNATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"

#include "attn/IR/MaskPatterns.h"

#include "attn/IR/AttnAttrInterfaces.h.inc"
#include "attn/IR/AttnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/IR/AttnAttrs.h.inc"

#endif // ATTN_IR_ATTNATTRS_H
