// DType and ReduceOp: names, aliases, sizes, and that the values appended
// last (i16; band, bor, bxor) left the others' numbers alone (they are on
// the wire in operation descriptors).
#include "runtime/dtype.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/error.h"

namespace myriad {
namespace {

TEST(DType, NamesRoundTripAndSizes) {
  for (DType dtype : kAllDTypes) EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype);
  EXPECT_EQ(dtype_name(DType::I16), "i16");
  EXPECT_EQ(dtype_size(DType::I16), 2u);
  EXPECT_FALSE(dtype_is_floating(DType::I16));
  EXPECT_EQ(parse_dtype("int16"), DType::I16);
  EXPECT_EQ(parse_dtype("short"), DType::I16);
  EXPECT_EQ(static_cast<int>(DType::I64), 7);
  EXPECT_EQ(static_cast<int>(DType::I16), 8);
  try {
    parse_dtype("int17");
    FAIL() << "int17 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("i16"), std::string::npos) << e.what();
  }
}

TEST(ReduceOp, NamesRoundTripAndBitwise) {
  for (ReduceOp op : kAllReduceOps) EXPECT_EQ(parse_reduce_op(reduce_op_name(op)), op);
  EXPECT_EQ(reduce_op_name(ReduceOp::Band), "band");
  EXPECT_EQ(reduce_op_name(ReduceOp::Bor), "bor");
  EXPECT_EQ(reduce_op_name(ReduceOp::Bxor), "bxor");
  EXPECT_EQ(static_cast<int>(ReduceOp::Avg), 4);
  EXPECT_EQ(static_cast<int>(ReduceOp::Band), 5);
  EXPECT_EQ(static_cast<int>(ReduceOp::Bxor), 7);
  int bitwise = 0;
  for (ReduceOp op : kAllReduceOps) bitwise += reduce_op_is_bitwise(op) ? 1 : 0;
  EXPECT_EQ(bitwise, 3);
  EXPECT_FALSE(reduce_op_is_bitwise(ReduceOp::Max));
  EXPECT_THROW(parse_reduce_op("nand"), Error);
}

}  // namespace
}  // namespace myriad
