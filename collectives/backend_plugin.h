// The contract between the backend registry (backend.h) and a backend
// plugin: a shared library libmyriad_backend_<name>.so that holds one
// backend and the heavy library it wraps (libmyriad_backend_mpi.so links
// libmpi, libmyriad_backend_nccl.so links NCCL and the CUDA runtime).
//
// The registry loads the plugin the first time a communicator asks for a
// backend that is not registered (plugin.h says where it looks), then calls
// the plugin's one exported C entry point, kBackendPluginEntry, with the
// registry's kBackendPluginAbi. The entry point registers the backend
// through register_backend() and returns nullptr, or returns a message
// saying why it could not (another ABI version, a duplicate name); the
// registry turns that message into an Error naming the plugin's path.
//
// A plugin's source file ends with one line:
//
//   MYRIAD_BACKEND_PLUGIN("mpi", make_mpi_backend)
//
// Thread-safety: the registry calls the entry point once per process, under
// its loading lock. The returned message is static storage of the plugin's.
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include "collectives/backend.h"

namespace myriad {

// Raised when the Backend interface or BackendContext changes layout: a
// plugin built against another version refuses to register.
inline constexpr uint32_t kBackendPluginAbi = 1;
inline constexpr const char* kBackendPluginEntry = "myriad_backend_plugin_register";

extern "C" {
using BackendPluginEntry = const char* (*)(uint32_t abi);
}

namespace detail {
// The body of every plugin's entry point (compiled into the plugin, so that
// kBackendPluginAbi here is the plugin's own).
inline const char* register_plugin_backend(uint32_t abi, const char* name, BackendFactory factory) {
  static std::string failure;
  if (abi != kBackendPluginAbi) {
    failure = "plugin ABI " + std::to_string(kBackendPluginAbi) + ", registry ABI " + std::to_string(abi) +
              ": rebuild the plugin with this Myriad";
    return failure.c_str();
  }
  try {
    register_backend(name, std::move(factory));
  } catch (const std::exception& e) {
    // No exception crosses the C entry point.
    failure = e.what();
    return failure.c_str();
  }
  return nullptr;
}
}  // namespace detail

}  // namespace myriad

// Defines the plugin's entry point; one per plugin library.
#define MYRIAD_BACKEND_PLUGIN(name, factory)                                                    \
  extern "C" __attribute__((visibility("default"))) const char* myriad_backend_plugin_register( \
      uint32_t abi) {                                                                           \
    return ::myriad::detail::register_plugin_backend(abi, name, factory);                       \
  }
