// attn-lower-mpi: the mpi ops LLVM 22's MPIToLLVM leaves unlowered
// (comm_size, isend, irecv, wait, barrier) become Open MPI calls; the module
// is marked Open MPI so that convert-to-llvm lowers the others the same way,
// and nothing of the mpi dialect remains.
// RUN: attn-opt %s --split-input-file --attn-lower-mpi | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-lower-mpi --convert-to-llvm --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM

// CHECK: module attributes {dlti.map = #dlti.map<"MPI:Implementation" = "OpenMPI">}
// CHECK-DAG: llvm.func @MPI_Comm_size(!llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.func @MPI_Isend(!llvm.ptr, i32, !llvm.ptr, i32, i32, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.func @MPI_Irecv(!llvm.ptr, i32, !llvm.ptr, i32, i32, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.func @MPI_Wait(!llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.func @MPI_Barrier(!llvm.ptr) -> i32
// CHECK-DAG: llvm.mlir.global external @ompi_mpi_float() {{.*}} : !llvm.struct<"ompi_predefined_datatype_t", opaque>
// CHECK-DAG: llvm.mlir.global external @ompi_mpi_uint16_t() {{.*}} : !llvm.struct<"ompi_predefined_datatype_t", opaque>
// CHECK-LABEL: func.func @ring_step
// The slots of the size and the requests are in the entry block.
// CHECK: %[[SIZE:.*]] = llvm.alloca %{{.*}} x i32
// CHECK: %[[COMM:.*]] = builtin.unrealized_conversion_cast %{{.*}} : !mpi.comm to i64
// CHECK: %[[H:.*]] = llvm.inttoptr %[[COMM]] : i64 to !llvm.ptr
// CHECK: llvm.call @MPI_Comm_size(%[[H]], %[[SIZE]])
// CHECK: %[[N:.*]] = llvm.load %[[SIZE]] : !llvm.ptr -> i32
// Count: the product of the sizes (2 x 4 x 8); tag 7 before the peer in the
// op, after the datatype and the peer in the call.
// CHECK: llvm.mul
// CHECK: llvm.mul
// CHECK: llvm.mul
// CHECK: %[[COUNT:.*]] = llvm.trunc %{{.*}} : i64 to i32
// CHECK: %[[F32:.*]] = llvm.mlir.addressof @ompi_mpi_float
// CHECK: %[[SENT:.*]] = llvm.call @MPI_Isend(%{{.*}}, %[[COUNT]], %[[F32]], %[[NEXT:.*]], %[[TAG:.*]], %{{.*}}, %[[SREQ:.*]]) :
// CHECK: llvm.load %[[SREQ]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @MPI_Irecv(%{{.*}}, %{{.*}}, %{{.*}}, %[[PREV:.*]], %[[TAG]], %{{.*}}, %{{.*}}) :
// bf16 travels as 16-bit integers.
// CHECK: llvm.mlir.addressof @ompi_mpi_uint16_t
// CHECK: llvm.call @MPI_Isend
// MPI_STATUS_IGNORE is Open MPI's null pointer.
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK: llvm.call @MPI_Wait(%{{.*}}, %[[NULL]])
// CHECK: llvm.call @MPI_Wait
// CHECK: llvm.call @MPI_Wait
// CHECK: llvm.call @MPI_Barrier(%{{.*}}) : (!llvm.ptr) -> i32
// CHECK-NOT: mpi.comm_size
// CHECK-NOT: mpi.isend
// CHECK-NOT: mpi.wait
// LLVM-LABEL: llvm.func @ring_step
// LLVM: llvm.mlir.addressof @ompi_mpi_comm_world
// LLVM: llvm.call @MPI_Comm_rank
// LLVM: llvm.call @MPI_Comm_size
// LLVM-NOT: mpi.
// LLVM-NOT: unrealized_conversion_cast
// LLVM: llvm.return
func.func @ring_step(%send: memref<2x4x8xf32>, %recv: memref<2x4x8xf32>, %h: memref<16xbf16>) -> i32 {
  %comm = mpi.comm_world : !mpi.comm
  %rank = mpi.comm_rank(%comm) : i32
  %size = mpi.comm_size(%comm) : i32
  %c1 = arith.constant 1 : i32
  %c7 = arith.constant 7 : i32
  %next0 = arith.addi %rank, %c1 : i32
  %next = arith.remsi %next0, %size : i32
  %prev0 = arith.addi %rank, %size : i32
  %prev1 = arith.subi %prev0, %c1 : i32
  %prev = arith.remsi %prev1, %size : i32
  %rs = mpi.isend(%send, %c7, %next, %comm) : memref<2x4x8xf32>, i32, i32 -> !mpi.request
  %rr = mpi.irecv(%recv, %c7, %prev, %comm) : memref<2x4x8xf32>, i32, i32 -> !mpi.request
  %err, %rh = mpi.isend(%h, %c7, %next, %comm) : memref<16xbf16>, i32, i32 -> !mpi.retval, !mpi.request
  mpi.wait(%rs) : !mpi.request
  mpi.wait(%rr) : !mpi.request
  mpi.wait(%rh) : !mpi.request
  mpi.barrier(%comm)
  return %size : i32
}

// -----

// A module without mpi ops is left alone (no DLTI attribute).
// CHECK-LABEL: module {
// CHECK: func.func @no_mpi
func.func @no_mpi() {
  return
}

// -----

// mpi.allreduce (decoding across ranks): MPI_Allreduce with Open MPI's
// reduction objects, ompi_mpi_op_max / ompi_mpi_op_sum (upstream's lowering
// names them ompi_mpi_max / ompi_mpi_sum, which Open MPI does not export).
// CHECK-DAG: llvm.func @MPI_Allreduce(!llvm.ptr, !llvm.ptr, i32, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.mlir.global external @ompi_mpi_op_max() {{.*}} : !llvm.struct<"ompi_predefined_op_t", opaque>
// CHECK-DAG: llvm.mlir.global external @ompi_mpi_op_sum() {{.*}} : !llvm.struct<"ompi_predefined_op_t", opaque>
// CHECK-LABEL: func.func @merge
// CHECK: %[[MAX:.*]] = llvm.mlir.addressof @ompi_mpi_op_max
// CHECK: llvm.call @MPI_Allreduce(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[MAX]], %{{.*}})
// CHECK: %[[SUM:.*]] = llvm.mlir.addressof @ompi_mpi_op_sum
// CHECK: llvm.call @MPI_Allreduce(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[SUM]], %{{.*}})
// LLVM-LABEL: llvm.func @merge
// LLVM-NOT: mpi.
// LLVM-NOT: ompi_mpi_max
func.func @merge(%a: memref<2x8xf32>, %b: memref<2x8xf32>) {
  %comm = mpi.comm_world : !mpi.comm
  mpi.allreduce(%a, %b, MPI_MAX, %comm) : memref<2x8xf32>, memref<2x8xf32>
  mpi.allreduce(%b, %a, MPI_SUM, %comm) : memref<2x8xf32>, memref<2x8xf32>
  return
}
