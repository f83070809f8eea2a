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

std::string check_after_power_loss(const std::string& dir, const std::optional<SavedStep>& previous,
                                   const SavedStep& next, bool save_done) {
  try {
    std::optional<uint64_t> latest = checkpoint::latest_step(dir);
    if (!latest) {
      if (previous || save_done) return "no checkpoint left";
    } else {
      std::vector<const SavedStep*> allowed{&next};
      if (previous && !save_done) allowed.push_back(&*previous);
      std::string why;
      bool loaded = false;
      for (const SavedStep* s : allowed) {
        if (s->step != *latest) continue;
        std::string problem;
        try {
          problem = load_and_compare(dir, s->specs, std::nullopt, s->step);
        } catch (const Error& e) {
          problem = e.what();
        }
        if (problem.empty()) {
          loaded = true;
          break;
        }
        why += fmt::format(" [as the {} save: {}]", s == &next ? "new" : "previous", problem);
      }
      if (!loaded) {
        return why.empty() ? fmt::format("the newest step is {}, expected {}{}", *latest, next.step,
                                         previous && !save_done ? fmt::format(" or {}", previous->step) : "")
                           : fmt::format("step {} does not load{}", *latest, why);
      }
    }
    for (uint64_t step : checkpoint::list_steps(dir)) {
      checkpoint::VerifyResult v = checkpoint::verify_step(dir, step);
      if (!v.ok()) return fmt::format("committed step {} is damaged: {}", step, v.problems[0]);
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace myriad::test
