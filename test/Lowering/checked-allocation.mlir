// attn-checked-allocation: host mallocs go through a private wrapper that
// reports a failed allocation in one line and exits 3; the kernels of a
// gpu.module are left alone.
// RUN: attn-opt %s --attn-checked-allocation | FileCheck %s

// CHECK-DAG: llvm.mlir.global internal constant @__attn_out_of_memory_message("attn: out of memory allocating %llu bytes\0A\00")
// CHECK-DAG: llvm.func @dprintf(i32, !llvm.ptr, ...) -> i32
// CHECK-DAG: llvm.func @_exit(i32)
// CHECK-LABEL: llvm.func @host
// CHECK: llvm.call @__attn_checked_malloc(%{{.*}}) : (i64) -> !llvm.ptr
// CHECK-LABEL: gpu.module @kernels
// CHECK: llvm.call @malloc
// CHECK-LABEL: llvm.func internal @__attn_checked_malloc(
// CHECK-SAME: %[[N:.*]]: i64) -> !llvm.ptr
// CHECK: %[[P:.*]] = llvm.call @malloc(%[[N]])
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: %[[ISNULL:.*]] = llvm.icmp "eq" %[[P]], %[[NULL]]
// CHECK: %[[NONZERO:.*]] = llvm.icmp "ne" %[[N]], %{{.*}}
// CHECK: %[[FAILED:.*]] = llvm.and %[[ISNULL]], %[[NONZERO]]
// CHECK: llvm.cond_br %[[FAILED]], ^[[OOM:.*]], ^[[OK:.*]]
// CHECK: ^[[OK]]:
// CHECK-NEXT: llvm.return %[[P]]
// CHECK: ^[[OOM]]:
// CHECK: llvm.call @dprintf(%{{.*}}, %{{.*}}, %[[N]])
// CHECK: %[[THREE:.*]] = llvm.mlir.constant(3 : i32) : i32
// CHECK: llvm.call @_exit(%[[THREE]])
// CHECK-NEXT: llvm.unreachable

module attributes {gpu.container_module} {
  llvm.func @malloc(i64) -> !llvm.ptr
  llvm.func @host(%n: i64) -> !llvm.ptr {
    %p = llvm.call @malloc(%n) : (i64) -> !llvm.ptr
    llvm.return %p : !llvm.ptr
  }
  gpu.module @kernels {
    llvm.func @malloc(i64) -> !llvm.ptr
    llvm.func @device(%n: i64) -> !llvm.ptr {
      %p = llvm.call @malloc(%n) : (i64) -> !llvm.ptr
      llvm.return %p : !llvm.ptr
    }
  }
}
