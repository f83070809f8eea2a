#include "collectives/mpi/mpi_types.h"

#include <array>
#include <mutex>

#include "kernels/reduce.h"
#include "runtime/error.h"

namespace myriad::mpi {
namespace {

template <kernels::ElementType Type, kernels::ReduceKind Kind>
void half_op(void* in, void* inout, int* len, MPI_Datatype*) {
  kernels::reduce(Type, Kind, inout, inout, in, static_cast<size_t>(*len));
}

template <kernels::ElementType Type>
std::array<MPI_Op, 4> make_half_ops() {
  auto create = [](MPI_User_function* function) {
    MPI_Op op{};
    MPI_Op_create(function, 1, &op);
    return op;
  };
  return {create(&half_op<Type, kernels::ReduceKind::Sum>), create(&half_op<Type, kernels::ReduceKind::Prod>),
          create(&half_op<Type, kernels::ReduceKind::Min>), create(&half_op<Type, kernels::ReduceKind::Max>)};
}

// f16 and bf16 have no bitwise ops (validate::reduction rejects them), so
// only Sum..Max (and Avg, a sum) index the table of half_ops.
int kind_index(ReduceOp op) {
  MYRIAD_CHECK(!reduce_op_is_bitwise(op), "{} of a 16-bit float", reduce_op_name(op));
  return op == ReduceOp::Avg ? 0 : static_cast<int>(op);
}

}  // namespace

MPI_Datatype datatype(DType dtype) {
  switch (dtype) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::F16:
    case DType::BF16: return MPI_UINT16_T;
    case DType::I8: return MPI_INT8_T;
    case DType::U8: return MPI_UINT8_T;
    case DType::I32: return MPI_INT32_T;
    case DType::I64: return MPI_INT64_T;
    case DType::I16: return MPI_INT16_T;
  }
  MYRIAD_CHECK(false, "dtype {}", static_cast<int>(dtype));
}

MPI_Op reduce_op(DType dtype, ReduceOp op) {
  if (dtype == DType::F16) {
    static std::array<MPI_Op, 4> ops = make_half_ops<kernels::ElementType::F16>();
    return ops[kind_index(op)];
  }
  if (dtype == DType::BF16) {
    static std::array<MPI_Op, 4> ops = make_half_ops<kernels::ElementType::BF16>();
    return ops[kind_index(op)];
  }
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return MPI_SUM;
    case ReduceOp::Prod: return MPI_PROD;
    case ReduceOp::Min: return MPI_MIN;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Band: return MPI_BAND;
    case ReduceOp::Bor: return MPI_BOR;
    case ReduceOp::Bxor: return MPI_BXOR;
  }
  MYRIAD_CHECK(false, "reduce op {}", static_cast<int>(op));
}

}  // namespace myriad::mpi
