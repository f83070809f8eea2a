// error_of(body): runs `body` and returns the myriad::Error it throws, or
// records a test failure (and returns an Internal error) when it throws none.
// For tests that assert an error's code and message.
#pragma once

#include <gtest/gtest.h>

#include "runtime/error.h"

namespace myriad::test {

template <typename Body>
Error error_of(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a myriad::Error";
  return Error(ErrorCode::Internal, "no error thrown");
}

}  // namespace myriad::test
