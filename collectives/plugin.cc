#include "collectives/plugin.h"

#include <dlfcn.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad {
namespace {

// The directory of the shared object that holds this function: the one the
// build and the install put next to every plugin.
std::string this_library_directory() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&this_library_directory), &info) == 0 ||
      info.dli_fname == nullptr) {
    return {};
  }
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string last_dl_error() {
  const char* reason = ::dlerror();
  return reason != nullptr ? reason : "no reason given";
}

}  // namespace

std::vector<std::string> plugin_directories() {
  std::vector<std::string> dirs;
  std::string list = config::get_string(Env::process(), "MYRIAD_PLUGIN_PATH").value_or("");
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) dirs.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  std::string own = this_library_directory();
  if (!own.empty()) dirs.push_back(own);
  return dirs;
}

Plugin open_plugin(std::string_view file, std::string_view what) {
  std::vector<std::string> dirs = plugin_directories();
  std::vector<std::string> tried;
  for (const std::string& dir : dirs) {
    std::string path = dir + "/" + std::string(file);
    // Absent here: try the next directory. Present but not loadable: stop,
    // so that the user sees why this file failed instead of a later one.
    if (::access(path.c_str(), F_OK) != 0) {
      tried.push_back(path + " (absent)");
      continue;
    }
    // RTLD_LOCAL: the plugin's dependencies (libmpi, libnccl) do not become
    // the resolution scope of everything loaded later.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      raise(ErrorCode::Unavailable, "{}: cannot load the plugin {}: {}", what, path, last_dl_error());
    }
    return Plugin{.handle = handle, .path = path};
  }
  raise(ErrorCode::InvalidArgument,
        "{}: no plugin {} found (looked for {}; MYRIAD_PLUGIN_PATH adds directories)", what, file,
        fmt::join(tried, ", "));
}

void* plugin_symbol(const Plugin& plugin, std::string_view symbol, std::string_view what) {
  ::dlerror();  // clear a stale error, so that the one below is this lookup's
  void* address = ::dlsym(plugin.handle, std::string(symbol).c_str());
  if (address == nullptr) {
    raise(ErrorCode::Unavailable, "{}: the plugin {} does not export {}: {}", what, plugin.path, symbol,
          last_dl_error());
  }
  return address;
}

}  // namespace myriad
