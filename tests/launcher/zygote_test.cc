// The --preload flag's parsing and which rank commands a fork server can
// start (launcher/zygote.h). The fork server itself is exercised end to end,
// with real ranks and a real kill, in tests/python/test_elastic.py.
#include "launcher/zygote.h"

#include <gtest/gtest.h>

#include "runtime/error.h"

namespace myriad::launcher {
namespace {

TEST(Zygote, PythonScriptsAndModulesCanBeForked) {
  EXPECT_EQ(zygote_unsuitable({"/opt/myriad/venv/bin/python", "train.py", "--lr", "0.1"}), "");
  EXPECT_EQ(zygote_unsuitable({"python3.11", "-m", "pkg.train", "--epochs", "3"}), "");
}

TEST(Zygote, OtherCommandsAreNamedWithWhyNot) {
  EXPECT_EQ(zygote_unsuitable({"/usr/bin/true"}), "the ranks run 'true', not Python");
  EXPECT_EQ(zygote_unsuitable({"python3"}), "the ranks run Python without a script");
  EXPECT_EQ(zygote_unsuitable({"python3", "-m"}), "python -m without a module");
  EXPECT_NE(zygote_unsuitable({"python3", "-u", "train.py"}).find("'-u'"), std::string::npos);
  EXPECT_NE(zygote_unsuitable({}), "");
}

TEST(Zygote, PreloadListsAreCommaSeparatedModuleNames) {
  EXPECT_EQ(parse_preload("torch"), (std::vector<std::string>{"torch"}));
  EXPECT_EQ(parse_preload("torch,numpy,torch.distributed,my_pkg2"),
            (std::vector<std::string>{"torch", "numpy", "torch.distributed", "my_pkg2"}));
}

TEST(Zygote, BadPreloadListsNameTheFlagAndTheBadName) {
  for (const char* bad : {"", "torch,", ",torch", "torch,,numpy", "torch numpy", ".torch", "torch.", "a;b"}) {
    try {
      parse_preload(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find(fmt::format("--preload '{}'", bad)), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("is not a Python module name"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace myriad::launcher
