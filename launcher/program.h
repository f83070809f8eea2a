// What a rank executes: the user's PROGRAM [ARGS...], with the Python
// interpreter put first for a .py program.
//
// The interpreter is MYRIAD_PYTHON when set, else the project's virtual
// environment (MYRIAD_DEFAULT_VENV/bin/python, fixed at build time) when it
// exists, else python3 from PATH. Resolution happens in the launcher before
// any rank starts, so a missing program fails once with a clear message
// (Error(InvalidArgument) naming it) instead of N times in N ranks.
// Pure functions of `env` and the file system; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/config.h"

namespace myriad::launcher {

// The interpreter for .py programs (see above), as given (not searched in PATH).
std::string python_interpreter(const Env& env);

// How PROGRAM runs (torchrun's -m, --no-python, --run-path).
struct ProgramMode {
  bool module = false;     // python -m PROGRAM
  bool no_python = false;  // PROGRAM itself, even a .py
  bool run_path = false;   // python PROGRAM, whatever its name
};

// `command` with the interpreter first when command[0] ends in .py (or as
// `mode` says). A script the interpreter would run that does not exist is
// Error(InvalidArgument) naming it, before any rank starts.
std::vector<std::string> program_argv(const std::vector<std::string>& command, const Env& env,
                                      const ProgramMode& mode = {});

// The absolute or relative path exec should run for `name`: itself when it
// contains a '/', else the first executable match in env's PATH.
std::string find_executable(std::string_view name, const Env& env);

}  // namespace myriad::launcher
