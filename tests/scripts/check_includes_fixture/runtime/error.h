// Fixture runtime: errors, included by the layers above.
#pragma once
struct FxError {
  int code;
};
