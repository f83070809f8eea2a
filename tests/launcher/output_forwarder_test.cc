// LineForwarder: whole prefixed lines out of arbitrary read() pieces.
#include "launcher/output_forwarder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/harness/launcher_test.h"

namespace myriad::launcher {
namespace {

// Captures what a forwarder writes, through a temporary file.
class Capture {
 public:
  Capture() : path_(dir_.path() + "/out") { fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600); }
  ~Capture() { ::close(fd_); }
  int fd() const { return fd_; }
  std::string text() const { return test::read_text(path_); }

 private:
  test::TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(LineForwarder, JoinsPiecesIntoPrefixedLines) {
  Capture console;
  Capture log;
  LineForwarder forwarder("[rank 2] ", console.fd(), log.fd());
  forwarder.feed("hel");
  forwarder.feed("lo\nwor");
  forwarder.feed("ld\n\nlast");
  EXPECT_EQ(console.text(), "[rank 2] hello\n[rank 2] world\n[rank 2] \n");
  forwarder.finish();
  EXPECT_EQ(console.text(), "[rank 2] hello\n[rank 2] world\n[rank 2] \n[rank 2] last\n");
  EXPECT_EQ(log.text(), "hello\nworld\n\nlast\n");
}

TEST(LineForwarder, FinishWithoutPartialLineWritesNothing) {
  Capture console;
  LineForwarder forwarder("", console.fd(), -1);
  forwarder.feed("a\n");
  forwarder.finish();
  EXPECT_EQ(console.text(), "a\n");
}

TEST(LineForwarder, EndlessLineIsCutAtTheLimit) {
  Capture console;
  LineForwarder forwarder("> ", console.fd(), -1);
  std::string chunk(kMaxLineBytes / 2 + 1, 'x');
  forwarder.feed(chunk);
  forwarder.feed(chunk);
  forwarder.finish();
  std::string text = console.text();
  EXPECT_EQ(text.size(), 2 * chunk.size() + 2 * (2 + 1));
  EXPECT_EQ(text.substr(0, 2), "> ");
  EXPECT_EQ(text[2 + kMaxLineBytes], '\n');
}

TEST(LineForwarder, ClosedConsoleStillFeedsTheLog) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  ::signal(SIGPIPE, SIG_IGN);
  Capture log;
  LineForwarder forwarder("[rank 0] ", fds[1], log.fd());
  forwarder.feed("one\ntwo\n");
  EXPECT_EQ(log.text(), "one\ntwo\n");
  ::close(fds[1]);
}

}  // namespace
}  // namespace myriad::launcher
