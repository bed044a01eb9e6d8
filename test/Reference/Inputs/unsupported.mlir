func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %r = scf.while (%i = %c0) : (index) -> index {
    %c4 = arith.constant 4 : index
    %lt = arith.cmpi slt, %i, %c4 : index
    scf.condition(%lt) %i : index
  } do {
  ^bb0(%i: index):
    %c1 = arith.constant 1 : index
    %n = arith.addi %i, %c1 : index
    scf.yield %n : index
  }
  return %x : tensor<4xf32>
}
