// A shared library named like a backend plugin that exports no entry point.
extern "C" __attribute__((visibility("default"))) int myriad_test_not_a_plugin() {
  return 1;
}
