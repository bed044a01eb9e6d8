// Shape-polymorphic entmax (B, Sq and Skv dynamic): the tiled form decides
// per call between keeping and recomputing the scores.
func.func @dyn(%q: tensor<?x4x?x32xf32>, %k: tensor<?x2x?x32xf32>, %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) {
  %o = attn.attention entmax %q, %k, %v [#attn.causal] {alpha = 1.5 : f32} : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x16xf32> -> tensor<?x4x?x16xf32>
  %o2 = attn.attention entmax %q, %k, %v [#attn.window<left = 5, right = 3>] {alpha = 1.7 : f32} : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x16xf32> -> tensor<?x4x?x16xf32>
  return %o, %o2 : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}
