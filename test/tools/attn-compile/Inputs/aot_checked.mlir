// Programs for the checked AOT entry points (aot-checks.test): dynamic
// sizes with GQA, a CSR graph mask and an index-list mask. @main would
// collide with C's main if objects exported bare function names.
func.func @main(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                %v: tensor<?x2x?x8xf32>) -> tensor<?x4x?x8xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.causal]
      : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x8xf32>
      -> tensor<?x4x?x8xf32>
  return %o : tensor<?x4x?x8xf32>
}

func.func @graph(%q: tensor<1x2x?x16xf32>, %k: tensor<1x1x?x16xf32>,
                 %v: tensor<1x1x?x16xf32>, %rp: tensor<?xi32>,
                 %cols: tensor<?xi32>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.csr] (%rp, %cols : tensor<?xi32>, tensor<?xi32>)
      : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>
      -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

func.func @lists(%q: tensor<1x1x4x16xf32>, %k: tensor<1x1x?x16xf32>,
                 %v: tensor<1x1x?x16xf32>, %ind: tensor<1x1x4x2xi32>)
    -> tensor<1x1x4x16xf32> {
  %o = attn.attention softmax %q, %k, %v [#attn.indices] (%ind : tensor<1x1x4x2xi32>)
      : tensor<1x1x4x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>
      -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}
