// The dependency of the missingdep test plugin: a shared library placed
// where the plugin's loader will not find it.
#include "tests/collectives/plugins/test_plugin_dep.h"

extern "C" __attribute__((visibility("default"))) int myriad_test_plugin_dep_value() {
  return 0;
}
