// The naive pipeline lowers attn (with dynamic sizes) to the LLVM dialect
// only, and attn-translate turns that into LLVM IR.
// RUN: attn-opt %s --attn-naive-to-llvm | FileCheck %s
// RUN: attn-opt %s --attn-to-llvm | FileCheck %s
// RUN: attn-opt %s --attn-naive-to-llvm | attn-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVMIR

// CHECK-LABEL: llvm.func @attention
// CHECK-NOT: attn.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK: llvm.return
// LLVMIR: define { ptr, ptr, i64, [4 x i64], [4 x i64] } @attention(
// LLVMIR: call ptr @malloc
func.func @attention(%q: tensor<?x4x?x24xbf16>, %k: tensor<?x2x?x24xbf16>, %v: tensor<?x2x?x24xbf16>) -> tensor<?x4x?x24xbf16> {
  %s = attn.score %q, %k : tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16> -> tensor<?x4x?x?xf32>
  %m = attn.mask %s [#attn.causal, #attn.window<left = [2, 4, 8, 16], right = 0>] : tensor<?x4x?x?xf32>
  %o = attn.aggregate softmax %m, %v : tensor<?x4x?x?xf32>, tensor<?x2x?x24xbf16> -> tensor<?x4x?x24xbf16>
  return %o : tensor<?x4x?x24xbf16>
}
