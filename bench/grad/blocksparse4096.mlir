// Block-sparse softmax attention, S=4096, 64x64 blocks: the backward against
// the dense one (dense4096.mlir). bench/run.py --grad passes q, k, v, a
// random block mask keeping 10% of the blocks of each head, and the
// cotangent dO as .npy files (attn-run --grad --arg: F's arguments, then dO).
// fp32, B=1, H=8, D=64.
func.func @blocksparse4096(%q: tensor<1x8x4096x64xf32>, %k: tensor<1x8x4096x64xf32>, %v: tensor<1x8x4096x64xf32>, %bm: tensor<1x8x64x64xi1>) -> tensor<1x8x4096x64xf32> {
  %s = attn.score %q, %k : tensor<1x8x4096x64xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x4096xf32>
  %m = attn.mask %s [#attn.block_mask<block_q = 64, block_kv = 64>] (%bm) : tensor<1x8x4096x4096xf32>, tensor<1x8x64x64xi1>
  %o = attn.aggregate softmax %m, %v : tensor<1x8x4096x4096xf32>, tensor<1x8x4096x64xf32> -> tensor<1x8x4096x64xf32>
  return %o : tensor<1x8x4096x64xf32>
}
