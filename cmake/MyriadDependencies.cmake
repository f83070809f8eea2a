# Third-party libraries. Required ones come from Debian packages
# (scripts/setup.sh); optional ones follow the AUTO/ON/OFF options.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)

# myriad_resolve_feature(<option> <found-var> <what>) turns AUTO into ON/OFF
# and fails when ON was asked for but the dependency is missing.
function(myriad_resolve_feature option found what)
  if(${option} STREQUAL "AUTO")
    set(value ${${found}})
  elseif(${option})
    if(NOT ${${found}})
      message(FATAL_ERROR "${option}=ON but ${what} was not found")
    endif()
    set(value ON)
  else()
    set(value OFF)
  endif()
  if(value)
    set(value ON)
  else()
    set(value OFF)
  endif()
  set(${option}_ENABLED ${value} PARENT_SCOPE)
  message(STATUS "Myriad: ${option}=${${option}} -> ${value} (${what})")
endfunction()

set(_myriad_found_mpi OFF)
if(NOT MYRIAD_WITH_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  set(_myriad_found_mpi ${MPI_C_FOUND})
endif()
myriad_resolve_feature(MYRIAD_WITH_MPI _myriad_found_mpi "MPI")

set(_myriad_found_ucx OFF)
if(NOT MYRIAD_WITH_UCX STREQUAL "OFF")
  find_package(ucx QUIET)
  set(_myriad_found_ucx ${ucx_FOUND})
endif()
myriad_resolve_feature(MYRIAD_WITH_UCX _myriad_found_ucx "UCX")

set(_myriad_found_cuda OFF)
if(NOT MYRIAD_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit QUIET)
    find_library(MYRIAD_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
    find_path(MYRIAD_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    if(CUDAToolkit_FOUND AND MYRIAD_NCCL_LIBRARY AND MYRIAD_NCCL_INCLUDE)
      set(_myriad_found_cuda ON)
    endif()
  endif()
endif()
myriad_resolve_feature(MYRIAD_WITH_CUDA _myriad_found_cuda "CUDA toolkit with NCCL")

# torch comes from PyPI into the Python environment (the project's venv, or
# the interpreter scikit-build-core runs): found by asking that interpreter,
# without importing torch. python/CMakeLists.txt uses MYRIAD_TORCH_DIR.
set(_myriad_found_torch OFF)
if(NOT MYRIAD_WITH_TORCH STREQUAL "OFF")
  if(NOT Python3_EXECUTABLE AND EXISTS "${MYRIAD_VENV}/bin/python")
    set(Python3_EXECUTABLE "${MYRIAD_VENV}/bin/python")
  endif()
  if(Python3_EXECUTABLE)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c
              "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0])"
      OUTPUT_VARIABLE MYRIAD_TORCH_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _myriad_torch_rc ERROR_QUIET)
    if(_myriad_torch_rc EQUAL 0 AND EXISTS "${MYRIAD_TORCH_DIR}/include/torch/csrc/distributed/c10d/Backend.hpp")
      set(_myriad_found_torch ON)
    endif()
  endif()
endif()
myriad_resolve_feature(MYRIAD_WITH_TORCH _myriad_found_torch "torch in ${Python3_EXECUTABLE}'s environment")

if(MYRIAD_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(MYRIAD_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# One generated header holds every feature flag (STYLE.md).
set(MYRIAD_HAVE_MPI ${MYRIAD_WITH_MPI_ENABLED})
set(MYRIAD_HAVE_UCX ${MYRIAD_WITH_UCX_ENABLED})
set(MYRIAD_HAVE_CUDA ${MYRIAD_WITH_CUDA_ENABLED})
set(MYRIAD_HAVE_TORCH ${MYRIAD_WITH_TORCH_ENABLED})
set(MYRIAD_GENERATED_DIR "${CMAKE_BINARY_DIR}/generated")
configure_file("${CMAKE_CURRENT_LIST_DIR}/myriad_config.h.in" "${MYRIAD_GENERATED_DIR}/myriad_config.h" @ONLY)
