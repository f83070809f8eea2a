// Plugins: Myriad's shared libraries that carry a heavy dependency (MPI,
// NCCL, the CUDA runtime, cuBLAS), loaded only by the code that needs them,
// so that a process which never asks for them (`myriad store`, `myriad
// agent`, a rank of the native backend) never maps those libraries.
//
// open_plugin(file, what) looks for `file` in each directory of
// MYRIAD_PLUGIN_PATH (a colon-separated list, searched first), then in the
// directory that holds libmyriad_collectives (where the build tree and the
// install put every plugin), and loads the first one found with dlopen
// (RTLD_NOW: a missing symbol fails here, not in the middle of a job). A
// file that exists but does not load (a missing dependency, an undefined
// symbol) is an error at once rather than a reason to try the next
// directory: a broken plugin earlier in the path must not be hidden by a
// good one later.
//
// Ownership: a loaded plugin stays loaded until the process exits (it is
// never dlclose'd), because what it registered (backend factories, device
// tables) points into its code. Loading the same file twice returns the
// same handle.
//
// Errors: no such file in any directory is Error(InvalidArgument); a file
// that does not load is Error(Unavailable). Both messages name `what`, every
// path tried and dlerror()'s reason. Nothing is loaded after a failure.
//
// Thread-safety: safe to call from any thread (dlopen serializes).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace myriad {

// A loaded plugin: its dlopen handle and the path it was loaded from.
struct Plugin {
  void* handle = nullptr;
  std::string path;
};

// The directories searched, in order: MYRIAD_PLUGIN_PATH's entries (empty
// entries skipped), then the directory of libmyriad_collectives.
std::vector<std::string> plugin_directories();

// Loads `file` (a bare file name such as "libmyriad_backend_mpi.so");
// `what` names what needs it in error messages ("the mpi backend").
Plugin open_plugin(std::string_view file, std::string_view what);

// The address of `symbol` in `plugin`; Error(Unavailable) naming the symbol,
// the plugin's path and dlerror() when the plugin does not export it.
void* plugin_symbol(const Plugin& plugin, std::string_view symbol, std::string_view what);

}  // namespace myriad
