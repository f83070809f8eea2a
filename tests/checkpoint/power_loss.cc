#include "tests/checkpoint/power_loss.h"

#include <filesystem>

#include "checkpoint/file_io.h"
#include "runtime/error.h"

namespace myriad::test {
namespace {

// Deeper than any checkpoint tree; a deeper walk means a cycle in the model.
constexpr int kMaxDepth = 64;

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

void capture(const std::filesystem::path& dir, const std::string& prefix, FileTree& tree) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = join(prefix, entry.path().filename().string());
    if (entry.is_directory()) {
      tree.dirs.insert(path);
      capture(entry.path(), path, tree);
    } else {
      tree.files[path] = checkpoint::read_text_file(entry.path().string());
    }
  }
}

}  // namespace

std::string FileTree::difference(const FileTree& expected) const {
  for (const std::string& d : expected.dirs) {
    if (!dirs.contains(d)) return "missing directory " + d;
  }
  for (const std::string& d : dirs) {
    if (!expected.dirs.contains(d)) return "unexpected directory " + d;
  }
  for (const auto& [path, data] : expected.files) {
    auto it = files.find(path);
    if (it == files.end()) return "missing file " + path;
    if (it->second != data) {
      return fmt::format("{}: {} bytes, expected {} (or other bytes)", path, it->second.size(), data.size());
    }
  }
  for (const auto& [path, data] : files) {
    if (!expected.files.contains(path)) return "unexpected file " + path;
  }
  return "";
}

FileTree capture_tree(const std::string& root) {
  FileTree tree;
  capture(root, "", tree);
  return tree;
}

void write_tree(const FileTree& tree, const std::string& root) {
  checkpoint::remove_tree(root);
  checkpoint::make_dir(root);
  for (const std::string& d : tree.dirs) checkpoint::make_dir(root + "/" + d);  // sorted: parents first
  for (const auto& [path, data] : tree.files) {
    checkpoint::File file = checkpoint::File::create(root + "/" + path);
    file.write_all(data.data(), data.size());
    file.close();
  }
}

PowerLoss::PowerLoss(const FileTree& durable) {
  add_node(true);
  load(durable);
}

size_t PowerLoss::add_node(bool dir) {
  nodes_.push_back(Node{.dir = dir});
  return nodes_.size() - 1;
}

void PowerLoss::load(const FileTree& tree) {
  auto place = [&](const std::string& path, size_t node) {
    auto [parent, name] = parent_of(path);
    nodes_[parent].entries[name] = node;
    nodes_[parent].durable_entries[name] = node;
  };
  for (const std::string& d : tree.dirs) place(d, add_node(true));
  for (const auto& [path, data] : tree.files) {
    const size_t node = add_node(false);
    nodes_[node].data = nodes_[node].durable_data = data;
    place(path, node);
  }
}

std::optional<size_t> PowerLoss::find(const std::string& path) const {
  size_t node = 0;
  size_t at = 0;
  while (at < path.size()) {
    const size_t slash = std::min(path.find('/', at), path.size());
    const std::string name = path.substr(at, slash - at);
    if (!nodes_[node].dir) return std::nullopt;
    auto it = nodes_[node].entries.find(name);
    if (it == nodes_[node].entries.end()) return std::nullopt;
    node = it->second;
    at = slash + 1;
  }
  return node;
}

std::pair<size_t, std::string> PowerLoss::parent_of(const std::string& path) const {
  if (path.empty()) raise(ErrorCode::InvalidArgument, "power loss model: the root has no parent");
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  std::optional<size_t> parent = find(dir);
  if (!parent || !nodes_[*parent].dir) {
    raise(ErrorCode::InvalidArgument, "power loss model: {}: no directory {}", path,
          dir.empty() ? "<root>" : dir);
  }
  return {*parent, slash == std::string::npos ? path : path.substr(slash + 1)};
}

void PowerLoss::change(size_t dir, Change c) {
  for (const auto& [name, node] : c.entries) {
    if (node) {
      nodes_[dir].entries[name] = *node;
    } else {
      nodes_[dir].entries.erase(name);
    }
  }
  nodes_[dir].pending.push_back(std::move(c));
}

void PowerLoss::remove_node_tree(size_t parent, const std::string& name) {
  const size_t node = nodes_[parent].entries.at(name);
  if (nodes_[node].dir) {
    // Children first, each a change of its own directory, as the removal
    // on the disk does it (std::filesystem::remove_all).
    std::vector<std::string> children;
    for (const auto& entry : nodes_[node].entries) children.push_back(entry.first);
    for (const std::string& child : children) remove_node_tree(node, child);
  }
  change(parent, {{{name, std::nullopt}}});
}

void PowerLoss::apply(const FileOp& op) {
  auto need = [&](const std::string& path) {
    std::optional<size_t> node = find(path);
    if (!node)
      raise(ErrorCode::InvalidArgument, "power loss model: {}: {} does not exist", op.describe(), path);
    return *node;
  };
  auto need_open = [&]() -> Open& {
    auto it = open_.find(op.handle);
    if (it == open_.end()) raise(ErrorCode::InvalidArgument, "power loss model: {}: not open", op.describe());
    return it->second;
  };
  switch (op.kind) {
    case FileOp::Kind::Create: {
      auto [parent, name] = parent_of(op.path);
      size_t node = 0;
      if (auto it = nodes_[parent].entries.find(name); it != nodes_[parent].entries.end()) {
        node = it->second;
        if (nodes_[node].dir)
          raise(ErrorCode::InvalidArgument, "power loss model: {}: a directory", op.describe());
        nodes_[node].data.clear();  // O_TRUNC: durable only at the next fsync
      } else {
        node = add_node(false);
        change(parent, {{{name, node}}});
      }
      open_[op.handle] = {node, 0};
      break;
    }
    case FileOp::Kind::OpenAppend: {
      const size_t node = need(op.path);
      open_[op.handle] = {node, nodes_[node].data.size()};
      break;
    }
    case FileOp::Kind::Append: {
      Open& o = need_open();
      std::string& data = nodes_[o.node].data;
      if (data.size() < o.offset + op.data.size()) data.resize(o.offset + op.data.size());
      data.replace(o.offset, op.data.size(), op.data);
      o.offset += op.data.size();
      break;
    }
    case FileOp::Kind::SyncFile: {
      Node& n = nodes_[need_open().node];
      n.durable_data = n.data;
      break;
    }
    case FileOp::Kind::Rename: {
      if (op.path == op.path2) break;
      const size_t node = need(op.path);
      auto [from_dir, from] = parent_of(op.path);
      auto [to_dir, to] = parent_of(op.path2);
      if (from_dir == to_dir) {
        change(from_dir, {{{to, node}, {from, std::nullopt}}});
      } else {
        change(to_dir, {{{to, node}}});
        change(from_dir, {{{from, std::nullopt}}});
      }
      break;
    }
    case FileOp::Kind::Exchange: {
      const size_t a = need(op.path);
      const size_t b = need(op.path2);
      auto [a_dir, a_name] = parent_of(op.path);
      auto [b_dir, b_name] = parent_of(op.path2);
      if (a_dir == b_dir) {
        change(a_dir, {{{a_name, b}, {b_name, a}}});
      } else {
        change(a_dir, {{{a_name, b}}});
        change(b_dir, {{{b_name, a}}});
      }
      break;
    }
    case FileOp::Kind::RemoveFile:
    case FileOp::Kind::RemoveTree: {
      if (!find(op.path)) break;  // a missing path is not an error
      auto [parent, name] = parent_of(op.path);
      remove_node_tree(parent, name);
      break;
    }
    case FileOp::Kind::MakeDir: {
      if (std::optional<size_t> node = find(op.path)) {
        if (!nodes_[*node].dir)
          raise(ErrorCode::InvalidArgument, "power loss model: {}: a file", op.describe());
        break;
      }
      auto [parent, name] = parent_of(op.path);
      change(parent, {{{name, add_node(true)}}});
      break;
    }
    case FileOp::Kind::SyncDir: {
      Node& n = nodes_[need(op.path)];
      if (!n.dir) raise(ErrorCode::InvalidArgument, "power loss model: {}: not a directory", op.describe());
      n.durable_entries = n.entries;
      n.pending.clear();
      break;
    }
  }
}

FileTree PowerLoss::tree_from(const std::vector<std::map<std::string, size_t>>& entries, bool durable) const {
  FileTree tree;
  auto walk = [&](auto&& self, size_t dir, const std::string& prefix, int depth) -> void {
    if (depth > kMaxDepth) raise(ErrorCode::Internal, "power loss model: a directory cycle under {}", prefix);
    for (const auto& [name, node] : entries[dir]) {
      const std::string path = join(prefix, name);
      if (nodes_[node].dir) {
        tree.dirs.insert(path);
        self(self, node, path, depth + 1);
      } else {
        tree.files[path] = durable ? nodes_[node].durable_data : nodes_[node].data;
      }
    }
  };
  walk(walk, 0, "", 0);
  return tree;
}

FileTree PowerLoss::visible() const {
  std::vector<std::map<std::string, size_t>> entries;
  for (const Node& n : nodes_) entries.push_back(n.entries);
  return tree_from(entries, false);
}

size_t PowerLoss::pending_changes() const {
  size_t n = 0;
  for (const Node& node : nodes_) n += node.pending.size();
  return n;
}

std::vector<FileTree> PowerLoss::crash_states(DirectoryLoss loss) const {
  std::vector<std::map<std::string, size_t>> base;
  for (const Node& n : nodes_) base.push_back(n.durable_entries);
  if (loss == DirectoryLoss::RevertAll) return {tree_from(base, true)};
  // Only directories that some subset can reach matter: from the root
  // through durable entries and the nodes named by pending changes.
  std::vector<bool> reachable(nodes_.size(), false);
  std::vector<size_t> todo{0};
  reachable[0] = true;
  while (!todo.empty()) {
    const size_t dir = todo.back();
    todo.pop_back();
    std::vector<size_t> next;
    for (const auto& entry : nodes_[dir].durable_entries) next.push_back(entry.second);
    for (const Change& c : nodes_[dir].pending) {
      for (const auto& entry : c.entries) {
        if (entry.second) next.push_back(*entry.second);
      }
    }
    for (size_t node : next) {
      if (!reachable[node] && nodes_[node].dir) {
        reachable[node] = true;
        todo.push_back(node);
      }
    }
  }
  std::vector<std::pair<size_t, const Change*>> pending;  // in each directory's order
  for (size_t dir = 0; dir < nodes_.size(); ++dir) {
    if (!reachable[dir]) continue;
    for (const Change& c : nodes_[dir].pending) pending.emplace_back(dir, &c);
  }
  if (pending.size() > kMaxPendingChanges) {
    raise(ErrorCode::InvalidArgument,
          "power loss model: {} pending directory changes, more than {} to enumerate", pending.size(),
          kMaxPendingChanges);
  }
  std::set<FileTree> states;
  for (uint64_t mask = 0; mask < (uint64_t{1} << pending.size()); ++mask) {
    std::vector<std::map<std::string, size_t>> entries = base;
    for (size_t i = 0; i < pending.size(); ++i) {
      if ((mask >> i & 1) == 0) continue;
      for (const auto& [name, node] : pending[i].second->entries) {
        if (node) {
          entries[pending[i].first][name] = *node;
        } else {
          entries[pending[i].first].erase(name);
        }
      }
    }
    states.insert(tree_from(entries, true));
  }
  return {states.begin(), states.end()};
}

PowerLossOutcome sweep_power_losses(
    const PowerLossSweep& sweep, const std::function<std::string(const FileTree&, bool save_done)>& check) {
  PowerLossOutcome out;
  std::map<std::pair<FileTree, bool>, std::string> seen;
  PowerLoss model(*sweep.durable);
  const std::vector<FileOp>& log = *sweep.log;
  for (size_t k = 0; k <= log.size(); ++k) {
    if (k > 0 && !sweep.disabled_syncs.contains(k - 1)) model.apply(log[k - 1]);
    ++out.crash_points;
    const bool done = k == log.size();
    for (FileTree& tree : model.crash_states(sweep.loss)) {
      ++out.crash_states;
      auto key = std::make_pair(std::move(tree), done);
      auto it = seen.find(key);
      if (it == seen.end()) {
        std::string problem = check(key.first, done);
        it = seen.emplace(std::move(key), std::move(problem)).first;
      }
      if (it->second.empty()) continue;
      out.failures.push_back(fmt::format("power lost after {} operations (the last: {}): {}", k,
                                         k == 0 ? "none" : log[k - 1].describe(), it->second));
      if (sweep.stop_at_first_failure) {
        out.distinct_trees = seen.size();
        return out;
      }
    }
  }
  out.distinct_trees = seen.size();
  return out;
}

}  // namespace myriad::test
