// attn-to-nvvm ends in a gpu.binary holding the kernels for the chosen chip
// (PTX here, format=isa) and host code in the LLVM dialect that allocates
// managed buffers and launches the kernels (mgpu* calls come from
// gpu-to-llvm and the gpu.binary translation). A linear aggregate's
// parallel loop nest becomes a kernel too.
// RUN: attn-opt %s --attn-to-nvvm="chip=sm_80" | FileCheck %s
// RUN: attn-opt %s --attn-to-nvvm | FileCheck %s --check-prefix=SM90

// CHECK: llvm.func @attention
// CHECK: llvm.call @mgpuMemAlloc
// CHECK: gpu.launch_func @attention_kernel::@attention_kernel
// CHECK: gpu.launch_func @attention_kernel_0::@attention_kernel
// CHECK: llvm.return
// CHECK: gpu.binary @attention_kernel  [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// CHECK-SAME: .target sm_80
// CHECK-SAME: .shared .align 16
// CHECK-SAME: bar.sync
// CHECK: gpu.binary @attention_kernel_0
// SM90: gpu.binary @attention_kernel  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// SM90-SAME: .target sm_90
func.func @attention(%q: tensor<1x2x40x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x8xf32>)
    -> (tensor<1x2x40x8xf32>, tensor<1x2x40x8xf32>) {
  %s = attn.score %q, %k : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x2x40x40xf32>
  %m = attn.mask %s [#attn.causal] : tensor<1x2x40x40xf32>
  %o = attn.aggregate softmax %m, %v : tensor<1x2x40x40xf32>, tensor<1x2x40x8xf32> -> tensor<1x2x40x8xf32>
  %l = attn.linear_aggregate %q, %k, %v {causal}
      : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x8xf32> -> tensor<1x2x40x8xf32>
  return %o, %l : tensor<1x2x40x8xf32>, tensor<1x2x40x8xf32>
}
