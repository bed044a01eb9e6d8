// Each rank sends a buffer filled with its rank to rank r+1 and receives
// rank r-1's; exit status 0 iff every received element is r-1 (mod P).
func.func @main() -> i32 {
  %init = mpi.init : !mpi.retval
  %comm = mpi.comm_world : !mpi.comm
  %rank = mpi.comm_rank(%comm) : i32
  %size = mpi.comm_size(%comm) : i32
  %c1 = arith.constant 1 : i32
  %c5 = arith.constant 5 : i32
  %next0 = arith.addi %rank, %c1 : i32
  %next = arith.remsi %next0, %size : i32
  %prev0 = arith.addi %rank, %size : i32
  %prev1 = arith.subi %prev0, %c1 : i32
  %prev = arith.remsi %prev1, %size : i32
  %send = memref.alloc() : memref<3x1000xf32>
  %recv = memref.alloc() : memref<3x1000xf32>
  %rf = arith.sitofp %rank : i32 to f32
  linalg.fill ins(%rf : f32) outs(%send : memref<3x1000xf32>)
  %neg = arith.constant -1.0 : f32
  linalg.fill ins(%neg : f32) outs(%recv : memref<3x1000xf32>)
  %rs = mpi.isend(%send, %c5, %next, %comm) : memref<3x1000xf32>, i32, i32 -> !mpi.request
  %rr = mpi.irecv(%recv, %c5, %prev, %comm) : memref<3x1000xf32>, i32, i32 -> !mpi.request
  mpi.wait(%rr) : !mpi.request
  mpi.wait(%rs) : !mpi.request
  mpi.barrier(%comm)
  %pf = arith.sitofp %prev : i32 to f32
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %c1000 = arith.constant 1000 : index
  %ci1 = arith.constant 1 : index
  %zero = arith.constant 0 : i32
  %bad = scf.for %i = %c0 to %c3 step %ci1 iter_args(%b0 = %zero) -> i32 {
    %bi = scf.for %j = %c0 to %c1000 step %ci1 iter_args(%b1 = %b0) -> i32 {
      %x = memref.load %recv[%i, %j] : memref<3x1000xf32>
      %ne = arith.cmpf une, %x, %pf : f32
      %inc = arith.extui %ne : i1 to i32
      %b2 = arith.addi %b1, %inc : i32
      scf.yield %b2 : i32
    }
    scf.yield %bi : i32
  }
  %fin = mpi.finalize : !mpi.retval
  return %bad : i32
}
