//===- OpenMPIToLLVM.h - mpi ops upstream cannot lower, for Open MPI -*- C++
//-*-===//
#ifndef ATTN_LOWERING_OPENMPITOLLVM_H
#define ATTN_LOWERING_OPENMPITOLLVM_H

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {

/// Patterns lowering mpi.comm_size, mpi.isend, mpi.irecv, mpi.wait,
/// mpi.barrier and mpi.allreduce to calls of the Open MPI library. `converter` must map
/// !mpi.comm to i64 (as upstream's MPIToLLVM does), !mpi.request to a
/// pointer and !mpi.retval to i32 (addOpenMPITypeConversions).
void populateOpenMPIToLLVMPatterns(LLVMTypeConverter &converter,
                                   RewritePatternSet &patterns);

/// The type conversions those patterns need.
void addOpenMPITypeConversions(LLVMTypeConverter &converter);

} // namespace mlir::attn

#endif // ATTN_LOWERING_OPENMPITOLLVM_H
