// Every example of the language reference (docs/language.md), verbatim inside functions that give
// the operands their types. It must parse, print, and re-parse unchanged,
// in both the pretty and the generic form.
//
// RUN: attn-opt %s > %t.pretty
// RUN: attn-opt %t.pretty > %t.pretty2
// RUN: diff %t.pretty %t.pretty2
// RUN: attn-opt %s --mlir-print-op-generic > %t.generic
// RUN: attn-opt %t.generic > %t.from_generic
// RUN: diff %t.pretty %t.from_generic
// RUN: FileCheck %s < %t.pretty

// CHECK-LABEL: func.func @score_family
// CHECK: attn.score %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x128xf32>
// CHECK: attn.score_mod %{{.*}} : tensor<1x8x128x128xf32> {
// CHECK-NEXT: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: math.tanh
// CHECK: attn.yield %{{.*}} : f32
func.func @score_family(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) -> tensor<1x8x128x128xf32> {
  %s = attn.score %q, %k {scale = 0.125 : f32}
         : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x128xf32>
  %t = attn.score_mod %s : tensor<1x8x128x128xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 30.0 : f32
    %y = arith.divf %x, %c : f32
    %z = math.tanh %y : f32
    %w = arith.mulf %z, %c : f32
    attn.yield %w : f32
  }
  return %t : tensor<1x8x128x128xf32>
}

// CHECK-LABEL: func.func @score_mod_captured
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x128x128xf32>
func.func @score_mod_captured(%s: tensor<1x8x128x128xf32>, %bias: tensor<8x128x128xf32>) -> tensor<1x8x128x128xf32> {
  %t = attn.score_mod %s : tensor<1x8x128x128xf32> {
  ^bb0(%x: f32, %b: index, %h: index, %i: index, %j: index):
    %e = tensor.extract %bias[%h, %i, %j] : tensor<8x128x128xf32>
    %y = arith.addf %x, %e : f32
    attn.yield %y : f32
  }
  return %t : tensor<1x8x128x128xf32>
}

// CHECK-LABEL: func.func @mask_family
// CHECK: attn.mask %{{.*}} [#attn.causal] : tensor<1x8x128x128xf32>
// CHECK: attn.mask %{{.*}} [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 63, right = 0>]>] : tensor<1x8x128x128xf32>
// CHECK: attn.mask %{{.*}} [#attn.block_mask<block_q = 64, block_kv = 64>] (%{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x8x2x2xi1>
// CHECK: attn.mask %{{.*}} [#attn.causal, #attn.segments] (%{{.*}}, %{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x128xi32>, tensor<1x128xi32>
// CHECK: attn.mask %{{.*}} [] : tensor<1x8x128x128xf32> {
// CHECK: arith.cmpi uge
// CHECK: attn.yield %{{.*}} : i1
func.func @mask_family(%s: tensor<1x8x128x128xf32>, %bm: tensor<1x8x2x2xi1>,
                       %qseg: tensor<1x128xi32>, %kseg: tensor<1x128xi32>)
    -> (tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>,
        tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>) {
  %m0 = attn.mask %s [#attn.causal] : tensor<1x8x128x128xf32>
  %m1 = attn.mask %s [#attn.any<[#attn.sink<count = 4>, #attn.window<left = 63, right = 0>]>] : tensor<1x8x128x128xf32>
  %m2 = attn.mask %s [#attn.block_mask<block_q = 64, block_kv = 64>] (%bm) : tensor<1x8x128x128xf32>, tensor<1x8x2x2xi1>
  %m3 = attn.mask %s [#attn.causal, #attn.segments] (%qseg, %kseg) : tensor<1x8x128x128xf32>, tensor<1x128xi32>, tensor<1x128xi32>
  %m4 = attn.mask %s [] : tensor<1x8x128x128xf32> {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %keep = arith.cmpi uge, %i, %j : index
    attn.yield %keep : i1
  }
  return %m0, %m1, %m2, %m3, %m4 : tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>
}

// CHECK-LABEL: func.func @static_patterns
// CHECK: #attn.window<left = [64, 128, 256, 512, 64, 128, 256, 512], right = 0>
// CHECK: #attn.chunk<size = 32>
// CHECK: #attn.prefix<length = 16>
// CHECK: #attn.block_local<block = 32, halo = 8>
func.func @static_patterns(%s: tensor<1x8x128x128xf32>) -> (tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>) {
  %a = attn.mask %s [#attn.window<left = [64, 128, 256, 512, 64, 128, 256, 512], right = 0>, #attn.chunk<size = 32>] : tensor<1x8x128x128xf32>
  %b = attn.mask %s [#attn.prefix<length = 16>, #attn.block_local<block = 32, halo = 8>] : tensor<1x8x128x128xf32>
  return %a, %b : tensor<1x8x128x128xf32>, tensor<1x8x128x128xf32>
}

// CHECK-LABEL: func.func @dynamic_patterns
// CHECK: [#attn.csr] (%{{.*}}, %{{.*}}) : tensor<1x8x128x128xf32>, tensor<129xi32>, tensor<600xi32>
// CHECK: [#attn.indices] (%{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x8x128x16xi32>
// CHECK: [#attn.rows] (%{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x8x128xi1>
// CHECK: [#attn.dense] (%{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x1x128x128xi1>
func.func @dynamic_patterns(%s: tensor<1x8x128x128xf32>, %rp: tensor<129xi32>, %cols: tensor<600xi32>,
                            %idx: tensor<1x8x128x16xi32>, %rows: tensor<1x8x128xi1>,
                            %dense: tensor<1x1x128x128xi1>) -> tensor<1x8x128x128xf32> {
  %a = attn.mask %s [#attn.csr] (%rp, %cols) : tensor<1x8x128x128xf32>, tensor<129xi32>, tensor<600xi32>
  %b = attn.mask %a [#attn.indices] (%idx) : tensor<1x8x128x128xf32>, tensor<1x8x128x16xi32>
  %c = attn.mask %b [#attn.rows] (%rows) : tensor<1x8x128x128xf32>, tensor<1x8x128xi1>
  %d = attn.mask %c [#attn.dense] (%dense) : tensor<1x8x128x128xf32>, tensor<1x1x128x128xi1>
  return %d : tensor<1x8x128x128xf32>
}

// CHECK-LABEL: func.func @aggregation_family
// CHECK: attn.aggregate softmax %{{.*}}, %{{.*}} : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.aggregate softmax %{{.*}}, %{{.*}} : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
// CHECK: attn.aggregate softmax %{{.*}}, %{{.*}} sinks(%{{.*}}) : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.normalize softmax %{{.*}} : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
// CHECK: attn.merge %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
// CHECK: attn.aggregate sigmoid
// CHECK: attn.aggregate none
func.func @aggregation_family(%m: tensor<1x8x128x128xf32>, %v: tensor<1x2x128x64xf32>, %sk: tensor<8xf32>)
    -> (tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x128xf32>,
        tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>) {
  %o = attn.aggregate softmax %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
  %o1, %lse1 = attn.aggregate softmax %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  %o2 = attn.aggregate softmax %m, %v sinks(%sk) : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
  %p = attn.normalize softmax %m : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
  %o3, %lse3 = attn.merge %o1, %lse1, %o1, %lse1 : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  %o4 = attn.aggregate sigmoid %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
  %o5 = attn.aggregate none %m, %v : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
  return %o, %lse1, %o2, %p, %o3, %lse3, %o4, %o5 : tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>
}

// The entmax examples of DESIGN §3 (added): alpha in the attr-dict.
// CHECK-LABEL: func.func @entmax_family
// CHECK: attn.aggregate entmax %{{.*}}, %{{.*}} {alpha = 1.500000e+00 : f32} : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.normalize entmax %{{.*}} {alpha = 2.000000e+00 : f32} : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
func.func @entmax_family(%m: tensor<1x8x128x128xf32>, %v: tensor<1x2x128x64xf32>)
    -> (tensor<1x8x128x64xf32>, tensor<1x8x128x128xf32>) {
  %o = attn.aggregate entmax %m, %v {alpha = 1.5 : f32} : tensor<1x8x128x128xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
  %p = attn.normalize entmax %m {alpha = 2.0 : f32} : tensor<1x8x128x128xf32> -> tensor<1x8x128x128xf32>
  return %o, %p : tensor<1x8x128x64xf32>, tensor<1x8x128x128xf32>
}

// The fused op carries entmax's alpha the same way (attn-fuse makes it).
// CHECK-LABEL: func.func @entmax_fused
// CHECK: attn.attention entmax %{{.*}}, %{{.*}}, %{{.*}} [#attn.causal] {alpha = 1.500000e+00 : f32} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
func.func @entmax_fused(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>)
    -> tensor<1x8x128x64xf32> {
  %o = attn.attention entmax %q, %k, %v [#attn.causal] {alpha = 1.5 : f32} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>
  return %o : tensor<1x8x128x64xf32>
}

// CHECK-LABEL: func.func @linear_family
// CHECK: attn.feature_map elu_plus_one %{{.*}} : tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.feature_map random_features %{{.*}}, %{{.*}} : tensor<1x8x128x64xf32>, tensor<64x256xf32> -> tensor<1x8x128x256xf32>
// CHECK: attn.linear_aggregate %{{.*}}, %{{.*}}, %{{.*}} {causal, normalize} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.linear_aggregate %{{.*}}, %{{.*}}, %{{.*}} decay(%{{.*}}) {causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
// CHECK: attn.feature_map taylor2 %{{.*}} : tensor<1x8x128x4xf32> -> tensor<1x8x128x21xf32>
func.func @linear_family(%q: tensor<1x8x128x64xf32>, %k: tensor<1x8x128x64xf32>, %v: tensor<1x8x128x64xf32>,
                         %w: tensor<64x256xf32>, %lambda: tensor<8xf32>, %small: tensor<1x8x128x4xf32>)
    -> (tensor<1x8x128x256xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x21xf32>) {
  %fq = attn.feature_map elu_plus_one %q : tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
  %fk = attn.feature_map elu_plus_one %k : tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
  %fr = attn.feature_map random_features %q, %w : tensor<1x8x128x64xf32>, tensor<64x256xf32> -> tensor<1x8x128x256xf32>
  %o = attn.linear_aggregate %fq, %fk, %v {causal, normalize} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x128x64xf32>
  %o2 = attn.linear_aggregate %q, %k, %v decay(%lambda) {causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<8xf32> -> tensor<1x8x128x64xf32>
  %t = attn.feature_map taylor2 %small : tensor<1x8x128x4xf32> -> tensor<1x8x128x21xf32>
  return %fr, %o, %o2, %t : tensor<1x8x128x256xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x21xf32>
}

// CHECK-LABEL: func.func @selection_family
// CHECK: attn.select_blocks %{{.*}}, %{{.*}} {block_kv = 64 : i64, block_q = 64 : i64, causal, top_k = 2 : i64} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x2x2xi1>
// CHECK: attn.select_topk %{{.*}} {top_k = 16 : i64} : tensor<1x8x128x128xf32> -> tensor<1x8x128x16xi32>
// CHECK: attn.cluster %{{.*}}, %{{.*}} : tensor<1x8x128x64xf32>, tensor<8x4x64xf32> -> tensor<1x8x128xi32>
// CHECK: attn.lsh %{{.*}}, %{{.*}} : tensor<1x8x128x64xf32>, tensor<64x3xf32> -> tensor<1x8x128xi32>
// CHECK: attn.select_blocks %{{.*}}, %{{.*}} reps(%{{.*}}) qreps(%{{.*}}) {block_kv = 64 : i64, block_q = 64 : i64, top_k = 1 : i64}
func.func @selection_family(%q: tensor<1x8x128x64xf32>, %k: tensor<1x8x128x64xf32>, %s: tensor<1x8x128x128xf32>,
                            %x: tensor<1x8x128x64xf32>, %centroids: tensor<8x4x64xf32>, %planes: tensor<64x3xf32>,
                            %r: tensor<1x8x2x16xf32>, %p: tensor<1x8x2x16xf32>)
    -> (tensor<1x8x2x2xi1>, tensor<1x8x128x16xi32>, tensor<1x8x128xi32>, tensor<1x8x128xi32>, tensor<1x8x2x2xi1>) {
  %bm  = attn.select_blocks %q, %k {block_q = 64, block_kv = 64, top_k = 2, pool = "mean", causal} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32> -> tensor<1x8x2x2xi1>
  %idx = attn.select_topk %s {top_k = 16} : tensor<1x8x128x128xf32> -> tensor<1x8x128x16xi32>
  %cid = attn.cluster %x, %centroids : tensor<1x8x128x64xf32>, tensor<8x4x64xf32> -> tensor<1x8x128xi32>
  %bid = attn.lsh %x, %planes : tensor<1x8x128x64xf32>, tensor<64x3xf32> -> tensor<1x8x128xi32>
  %bm2 = attn.select_blocks %q, %k reps(%r) qreps(%p) {block_q = 64, block_kv = 64, top_k = 1} : tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x2x16xf32>, tensor<1x8x2x16xf32> -> tensor<1x8x2x2xi1>
  return %bm, %idx, %cid, %bid, %bm2 : tensor<1x8x2x2xi1>, tensor<1x8x128x16xi32>, tensor<1x8x128xi32>, tensor<1x8x128xi32>, tensor<1x8x2x2xi1>
}

// CHECK-LABEL: func.func @dynamic_sizes
// CHECK: attn.score %{{.*}}, %{{.*}} : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16> -> tensor<?x8x?x?xf32>
// CHECK: attn.aggregate softmax %{{.*}}, %{{.*}} : tensor<?x8x?x?xf32>, tensor<?x2x?x64xf16> -> tensor<?x8x?x64xf16>
func.func @dynamic_sizes(%q: tensor<?x8x?x64xf16>, %k: tensor<?x2x?x64xf16>, %v: tensor<?x2x?x64xf16>) -> tensor<?x8x?x64xf16> {
  %s = attn.score %q, %k : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16> -> tensor<?x8x?x?xf32>
  %m = attn.mask %s [#attn.causal] : tensor<?x8x?x?xf32>
  %o = attn.aggregate softmax %m, %v : tensor<?x8x?x?xf32>, tensor<?x2x?x64xf16> -> tensor<?x8x?x64xf16>
  return %o : tensor<?x8x?x64xf16>
}
