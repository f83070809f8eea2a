// Linked into the missingdep test plugin beside test_backend_plugin.cc: a
// use of test_plugin_dep's symbol, so that the linker records the
// dependency and loading the plugin fails for want of it.
#include "tests/collectives/plugins/test_plugin_dep.h"

namespace {

const int kDepValue = myriad_test_plugin_dep_value();

}  // namespace

extern "C" __attribute__((visibility("default"))) int myriad_test_plugin_dep_seen() {
  return kDepValue;
}
