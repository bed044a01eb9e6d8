// attn-gpu-managed-memory: host buffers become managed allocations
// (gpu.alloc host_shared), freed at the end of their block unless they may
// outlive it (returned, yielded, selected, stored); constant globals that a
// kernel reads or that are returned are copied into managed memory.
// attn-expand-strided-copies: a copy between strided buffers becomes a
// linalg.copy (no call of MLIR's memrefCopy runtime function).
// RUN: attn-opt %s --split-input-file --attn-gpu-managed-memory | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-expand-strided-copies | FileCheck %s --check-prefix=COPY

// CHECK-LABEL: func.func @scratch_and_result
// CHECK: %[[OUT:.*]] = gpu.alloc host_shared () : memref<64xf32>
// CHECK: %[[TMP:.*]] = gpu.alloc host_shared () : memref<64xf32>
// CHECK: gpu.launch
// CHECK: %[[S:.*]] = gpu.wait async
// CHECK: %[[D:.*]] = gpu.dealloc async [%[[S]]] %[[TMP]]
// CHECK: gpu.wait [%[[D]]]
// CHECK-NOT: gpu.dealloc
// CHECK: return %[[OUT]]
func.func @scratch_and_result() -> memref<64xf32> {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %out = memref.alloc() : memref<64xf32>
  %tmp = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %tmp[%tx] : memref<64xf32>
    memref.store %v, %out[%tx] : memref<64xf32>
    gpu.terminator
  }
  return %out : memref<64xf32>
}

// -----

// Buffers that leave through a region's results are not freed.
// CHECK-LABEL: func.func @selected
// CHECK-COUNT-2: gpu.alloc host_shared
// CHECK-NOT: gpu.dealloc
// CHECK: return
func.func @selected(%c: i1) -> memref<8xf32> {
  %a = memref.alloc() : memref<8xf32>
  %b = memref.alloc() : memref<8xf32>
  %r = scf.if %c -> memref<8xf32> {
    scf.yield %a : memref<8xf32>
  } else {
    scf.yield %b : memref<8xf32>
  }
  return %r : memref<8xf32>
}

// -----

// CHECK-LABEL: func.func @globals
// CHECK: %[[G:.*]] = memref.get_global @table
// CHECK: %[[MANAGED:.*]] = gpu.alloc host_shared () : memref<4xf32>
// CHECK: memref.copy %[[G]], %[[MANAGED]]
// CHECK: %[[R:.*]] = memref.get_global @returned
// CHECK: %[[RCOPY:.*]] = gpu.alloc host_shared () : memref<4xf32>
// CHECK: memref.copy %[[R]], %[[RCOPY]]
// CHECK: gpu.launch
// CHECK: memref.load %[[MANAGED]]
// CHECK: gpu.dealloc async [%{{.*}}] %[[MANAGED]]
// CHECK-NOT: gpu.dealloc
// CHECK: return %[[RCOPY]]
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
memref.global "private" constant @returned : memref<4xf32> = dense<[5.0, 6.0, 7.0, 8.0]>
func.func @globals(%out: memref<4xf32>) -> memref<4xf32> {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = memref.get_global @table : memref<4xf32>
  %r = memref.get_global @returned : memref<4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %v = memref.load %g[%tx] : memref<4xf32>
    memref.store %v, %out[%tx] : memref<4xf32>
    gpu.terminator
  }
  return %r : memref<4xf32>
}

// -----

// COPY-LABEL: func.func @copies
// COPY: linalg.copy ins(%{{.*}} : memref<4xf32, strided<[2]>>) outs(%arg1 : memref<4xf32>)
// COPY: memref.copy %arg1, %arg2 : memref<4xf32> to memref<4xf32>
func.func @copies(%a: memref<8xf32>, %b: memref<4xf32>, %c: memref<4xf32>) {
  %s = memref.subview %a[0] [4] [2] : memref<8xf32> to memref<4xf32, strided<[2]>>
  memref.copy %s, %b : memref<4xf32, strided<[2]>> to memref<4xf32>
  memref.copy %b, %c : memref<4xf32> to memref<4xf32>
  return
}
