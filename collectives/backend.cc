#include "collectives/backend.h"

#include <dirent.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "collectives/backend_plugin.h"
#include "collectives/native/native_backend.h"
#include "collectives/plugin.h"
#include "collectives/work_control.h"

namespace myriad {
namespace {

constexpr std::string_view kPluginPrefix = "libmyriad_backend_";
constexpr std::string_view kPluginSuffix = ".so";

struct Registry {
  std::mutex mutex;
  std::map<std::string, BackendFactory, std::less<>> factories;
  // Held while a plugin loads and registers, apart from `mutex`, which the
  // plugin's register_backend() call takes.
  std::mutex loading;
};

Registry& registry() {
  static Registry* instance = [] {
    auto* r = new Registry();
    // The one backend built into this library; the others are plugins.
    r->factories.emplace("native", make_native_backend);
    return r;
  }();
  return *instance;
}

bool registered(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.factories.contains(name);
}

// A name that can only become a file name in the plugin directory.
bool plausible_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string available_backends() {
  std::vector<std::string> names = backend_names();
  for (const std::string& plugin : backend_plugin_names()) {
    if (std::find(names.begin(), names.end(), plugin) == names.end()) names.push_back(plugin + " (plugin)");
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

void register_backend(std::string_view name, BackendFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.factories.emplace(std::string(name), std::move(factory)).second) {
    raise(ErrorCode::InvalidArgument, "backend '{}' is already registered", name);
  }
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : r.factories) names.push_back(name);
  return names;
}

std::vector<std::string> backend_plugin_names() {
  std::vector<std::string> names;
  for (const std::string& dir : plugin_directories()) {
    DIR* stream = ::opendir(dir.c_str());
    if (stream == nullptr) continue;  // a listed directory that is absent holds no plugins
    while (const dirent* entry = ::readdir(stream)) {
      std::string_view file = entry->d_name;
      if (!file.starts_with(kPluginPrefix) || !file.ends_with(kPluginSuffix)) continue;
      std::string name(
          file.substr(kPluginPrefix.size(), file.size() - kPluginPrefix.size() - kPluginSuffix.size()));
      if (plausible_name(name) && std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
    ::closedir(stream);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void require_backend(std::string_view name) {
  if (registered(name)) return;
  if (!plausible_name(name)) {
    raise(ErrorCode::InvalidArgument, "unknown backend '{}' (MYRIAD_BACKEND): backends are {}", name,
          available_backends());
  }
  Registry& r = registry();
  std::lock_guard loading(r.loading);
  if (registered(name)) return;  // another thread loaded it meanwhile

  std::string file = fmt::format("{}{}{}", kPluginPrefix, name, kPluginSuffix);
  std::string what = fmt::format("backend '{}'", name);
  Plugin plugin;
  try {
    plugin = open_plugin(file, what);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) throw;
    raise(ErrorCode::InvalidArgument, "unknown backend '{}' (MYRIAD_BACKEND): backends are {}; {}", name,
          available_backends(), e.message());
  }
  auto entry = reinterpret_cast<BackendPluginEntry>(plugin_symbol(plugin, kBackendPluginEntry, what));
  if (const char* failure = entry(kBackendPluginAbi)) {
    raise(ErrorCode::Unavailable, "{}: the plugin {} did not register: {}", what, plugin.path, failure);
  }
  if (!registered(name)) {
    raise(ErrorCode::Unavailable, "{}: the plugin {} registered no backend of that name (it has: {})", what,
          plugin.path, fmt::join(backend_names(), ", "));
  }
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendContext& context) {
  try {
    require_backend(name);
  } catch (const Error& e) {
    raise(e.code(), "rank {}: {}", context.rank, e.message());
  }
  BackendFactory factory;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    factory = r.factories.find(name)->second;
  }
  return factory(context);
}

WorkPtr Backend::not_supported(OpKind kind) const {
  auto work = std::make_shared<Work>(OpDescriptor{.kind = kind});
  WorkControl::fail(*work, std::make_exception_ptr(Error(ErrorCode::NotSupported,
                                                         fmt::format("the {} backend does not support {}",
                                                                     name(), op_kind_name(kind)))));
  return work;
}

WorkPtr Backend::allreduce(TensorView, TensorView, const AllreduceOptions&) {
  return not_supported(OpKind::Allreduce);
}
WorkPtr Backend::reduce(TensorView, TensorView, const ReduceOptions&) {
  return not_supported(OpKind::Reduce);
}
WorkPtr Backend::broadcast(TensorView, const RootOptions&) {
  return not_supported(OpKind::Broadcast);
}
WorkPtr Backend::allgather(TensorView, TensorView, const CollectiveOptions&) {
  return not_supported(OpKind::Allgather);
}
WorkPtr Backend::allgatherv(TensorView, TensorView, const std::vector<uint64_t>&, const CollectiveOptions&) {
  return not_supported(OpKind::Allgatherv);
}
WorkPtr Backend::reduce_scatter(TensorView, TensorView, const ReduceScatterOptions&) {
  return not_supported(OpKind::ReduceScatter);
}
WorkPtr Backend::reduce_scatterv(TensorView, TensorView, const std::vector<uint64_t>&,
                                 const ReduceScatterOptions&) {
  return not_supported(OpKind::ReduceScatterv);
}
WorkPtr Backend::alltoall(TensorView, TensorView, const CollectiveOptions&) {
  return not_supported(OpKind::Alltoall);
}
WorkPtr Backend::alltoallv(TensorView, TensorView, const std::vector<uint64_t>&, const std::vector<uint64_t>&,
                           const CollectiveOptions&) {
  return not_supported(OpKind::Alltoallv);
}
WorkPtr Backend::gather(TensorView, TensorView, const RootOptions&) {
  return not_supported(OpKind::Gather);
}
WorkPtr Backend::scatter(TensorView, TensorView, const RootOptions&) {
  return not_supported(OpKind::Scatter);
}
WorkPtr Backend::barrier(const CollectiveOptions&) {
  return not_supported(OpKind::Barrier);
}
WorkPtr Backend::send(TensorView, int, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Send);
}
WorkPtr Backend::recv(TensorView, int, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Recv);
}
WorkPtr Backend::recv_any(TensorView, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Recv);
}

}  // namespace myriad
