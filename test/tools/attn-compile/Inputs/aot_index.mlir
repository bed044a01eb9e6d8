// index and i1 tensors through an entry point (aot-checks.test): the
// descriptor checks size index elements at 8 bytes and i1 at one.
func.func @ident(%x: tensor<4xindex>, %y: tensor<2x3xi1>) -> (tensor<4xindex>, tensor<2x3xi1>) {
  return %x, %y : tensor<4xindex>, tensor<2x3xi1>
}
