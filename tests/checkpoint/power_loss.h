// PowerLoss: what a disk holds after a power loss, built by replaying a
// FaultFileSystem log (tests/checkpoint/fault_file_system.h) over the
// directory tree that was durable when the log began.
//
// The crash model (docs/checkpoint-format.md, "Crash model of the tests"):
//   - a file's data is what it held at its last fsync; every byte written
//     since is lost (a file never fsynced is empty);
//   - a directory's entries are those it held at its last fsync, plus some
//     of the changes made in it since (entries created, renamed in or out,
//     removed). RevertAll keeps none of them; AnySubset yields a state for
//     every subset, because a file system may write a later change of a
//     directory to disk before an earlier one. One rename, or one exchange,
//     within a directory is atomic: a subset has all of it or none;
//   - a name reaches a file or directory only through the entries above, so
//     whatever hangs under a name that was lost is lost with it.
//
// PowerLoss keeps a model of the files as the writing processes see them
// (volatile) next to what is durable; apply() takes the operations in the
// log's order. Values only; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/checkpoint/fault_file_system.h"

namespace myriad::test {

// A directory tree: directories and files (with their bytes) by their path
// relative to the tree's root ("" is the root; it is not listed).
struct FileTree {
  std::set<std::string> dirs{};
  std::map<std::string, std::string> files{};
  bool operator==(const FileTree&) const = default;
  // For std::set; clang-tidy sees the literal 0 of the synthesized comparison.
  auto operator<=>(const FileTree&) const = default;  // NOLINT(modernize-use-nullptr)
  // The first difference ("missing file a/b", "a/b: 10 bytes, expected 12").
  std::string difference(const FileTree& expected) const;
};

// The tree under `root` on the real disk now.
FileTree capture_tree(const std::string& root);
// Writes `tree` as the directory `root` (removed first if it exists).
void write_tree(const FileTree& tree, const std::string& root);

enum class DirectoryLoss { RevertAll, AnySubset };

class PowerLoss {
 public:
  // Beyond this many pending directory changes AnySubset throws rather than
  // enumerate 2^n states (no save of the tests comes near it).
  static constexpr size_t kMaxPendingChanges = 14;

  // `durable`: the tree when the log begins, all of it durable.
  explicit PowerLoss(const FileTree& durable);

  // Replays one operation. Error(InvalidArgument) for one that cannot have
  // happened (a rename of a missing name, an append to no open file).
  void apply(const FileOp& op);

  // The files as the processes see them (after the operations so far).
  FileTree visible() const;
  // Every distinct tree a power loss now could leave, sorted (RevertAll
  // gives exactly one).
  std::vector<FileTree> crash_states(DirectoryLoss loss) const;
  // Directory changes not yet made durable by an fsync of their directory.
  size_t pending_changes() const;

 private:
  // One change of a directory: names set to a node (or erased, nullopt),
  // all at once.
  struct Change {
    std::vector<std::pair<std::string, std::optional<size_t>>> entries;
  };
  struct Node {
    bool dir = false;
    std::string data{};  // files: as the processes see it
    std::string durable_data{};
    std::map<std::string, size_t> entries{};  // directories: as the processes see them
    std::map<std::string, size_t> durable_entries{};
    std::vector<Change> pending{};  // made since the last fsync, in order
  };
  struct Open {
    size_t node = 0;
    uint64_t offset = 0;
  };

  size_t add_node(bool dir);
  void load(const FileTree& tree);
  // The node at `path` as the processes see it, if any.
  std::optional<size_t> find(const std::string& path) const;
  // The directory holding `path` and the last name of `path`.
  std::pair<size_t, std::string> parent_of(const std::string& path) const;
  void change(size_t dir, Change c);
  void remove_node_tree(size_t parent, const std::string& name);
  // The tree reached from the root with `entries` as every directory's.
  FileTree tree_from(const std::vector<std::map<std::string, size_t>>& entries, bool durable) const;

  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::map<uint64_t, Open> open_;
};

// A power loss after each prefix of a log: ops [0, k) for k = 0..N.
struct PowerLossSweep {
  const FileTree* durable = nullptr;  // the tree when the log began
  const std::vector<FileOp>* log = nullptr;
  DirectoryLoss loss = DirectoryLoss::AnySubset;
  // Indices of fsyncs (of files or directories) replayed as no-ops: a save
  // whose code lacked them.
  std::set<size_t> disabled_syncs{};
  bool stop_at_first_failure = false;
};
struct PowerLossOutcome {
  size_t crash_points = 0;            // values of k swept
  size_t crash_states = 0;            // (k, tree) pairs checked, with repeats
  size_t distinct_trees = 0;          // trees actually handed to the check
  std::vector<std::string> failures;  // "power lost after k operations (the last: <op>): <problem>"
};
// Calls `check(tree, save_done)` for every crash state of every k, where
// save_done says k = N (the power went after the last operation); a
// non-empty result is a failure. Results are reused for a tree seen before
// with the same save_done.
PowerLossOutcome sweep_power_losses(const PowerLossSweep& sweep,
                                    const std::function<std::string(const FileTree&, bool save_done)>& check);

}  // namespace myriad::test
