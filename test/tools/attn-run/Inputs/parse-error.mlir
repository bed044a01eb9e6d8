func.func @broken(%q: tensor<1x1x4x8xf32>) {
  %s = attn.score %q, %q : tensor<1x1x4x8xf32>
