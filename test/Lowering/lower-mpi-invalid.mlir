// attn-lower-mpi lowers for Open MPI only: a module that names another MPI
// implementation is an error.
// RUN: attn-opt %s --attn-lower-mpi --verify-diagnostics

// expected-error @+1 {{attn-lower-mpi lowers for Open MPI, but the module's "MPI:Implementation" is "MPICH"}}
module attributes {dlti.map = #dlti.map<"MPI:Implementation" = "MPICH">} {
  func.func @mpich(%b: memref<4xf32>) {
    %comm = mpi.comm_world : !mpi.comm
    %size = mpi.comm_size(%comm) : i32
    return
  }
}
