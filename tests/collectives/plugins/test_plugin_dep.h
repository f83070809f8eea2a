// The dependency of the missingdep test plugin (test_plugin_dep.cc): a
// shared library placed where the plugin's loader will not find it, so that
// loading the plugin fails the way it does when libmpi or libnccl is absent.
#pragma once

extern "C" __attribute__((visibility("default"))) int myriad_test_plugin_dep_value();
