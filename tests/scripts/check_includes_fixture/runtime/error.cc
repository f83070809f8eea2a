#include "runtime/error.h"
FxError fx_ok() {
  return FxError{0};
}
