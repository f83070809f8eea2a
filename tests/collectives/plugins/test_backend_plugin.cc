// A backend plugin for backend_plugin_test: registers TEST_PLUGIN_BACKEND
// (a compile definition, so that one source gives a well-formed plugin and
// one that registers a name other than its file's) with a backend that
// implements nothing (every operation is NotSupported).
#include "collectives/backend_plugin.h"

namespace myriad {
namespace {

class TestPluginBackend : public Backend {
 public:
  std::string_view name() const override { return TEST_PLUGIN_BACKEND; }
  void abort(const Error&) override {}
};

std::unique_ptr<Backend> make_test_plugin_backend(const BackendContext&) {
  return std::make_unique<TestPluginBackend>();
}

}  // namespace
}  // namespace myriad

MYRIAD_BACKEND_PLUGIN(TEST_PLUGIN_BACKEND, myriad::make_test_plugin_backend)
