#include "tests/checkpoint/checkpoint_test_util.h"

#include "checkpoint/reader.h"

namespace myriad::test {

std::vector<TensorSpec> mixed_specs() {
  std::vector<TensorSpec> specs;
  for (DType dtype : kAllDTypes) {
    const std::string name(dtype_name(dtype));
    specs.push_back({"sharded." + name, dtype, {11, 3}, checkpoint::Placement::Sharded});
    specs.push_back({"replicated." + name, dtype, {5}, checkpoint::Placement::Replicated});
  }
  specs.push_back({"scalar", DType::F64, {}, checkpoint::Placement::Replicated});
  specs.push_back({"empty", DType::F32, {0, 4}, checkpoint::Placement::Sharded});
  specs.push_back({"matrix", DType::F32, {37, 2, 3}, checkpoint::Placement::Sharded});
  return specs;
}

WorldResult save_steps(const std::string& dir, int n, const std::vector<TensorSpec>& specs,
                       const std::vector<uint64_t>& steps, checkpoint::CheckpointerOptions options) {
  return run_world(Layout::one_node(n), [&](Rank& r) {
    checkpoint::Checkpointer ck(r.comm, options);
    for (uint64_t step : steps) {
      OwnedState owned(specs, r.rank, r.size, step, true);
      try {
        ck.save(owned.state(), dir, step, {{"saved_by", "save_steps"}}).wait();
      } catch (const Error& e) {
        r.report(fmt::format("save of step {} failed: {}", step, e.what()));
        return kRankSaveFailed;
      }
    }
    return kRankOk;
  });
}

std::string load_and_compare(const std::string& dir, const std::vector<TensorSpec>& specs,
                             std::optional<uint64_t> step, uint64_t expect_step) {
  OwnedState owned(specs, 0, 1, expect_step, false);
  checkpoint::LoadResult result = checkpoint::load_checkpoint(owned.state(), dir, {.step = step});
  if (result.step != expect_step) return fmt::format("loaded step {}, expected {}", result.step, expect_step);
  return owned.mismatch(expect_step);
}

}  // namespace myriad::test
