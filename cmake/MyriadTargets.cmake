# Helpers that keep each folder's CMakeLists.txt to a few lines.

# Libraries are shared so that their private dependencies (xxHash, hwloc, MPI,
# UCX, NCCL) never leak into a consumer's link line.
set(BUILD_SHARED_LIBS ON)
set(CMAKE_INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
set(CMAKE_CXX_VISIBILITY_PRESET default)

set_property(GLOBAL PROPERTY MYRIAD_LIBRARIES "")

# myriad_add_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Adds target myriad_<name> (alias Myriad::<name>) built from the folder's
# sources. Headers are included as "<folder>/<file>.h" from the source root in
# the build tree and from <prefix>/include/myriad once installed; only the
# public API is installed (MyriadInstall.cmake). A dependency is PUBLIC when
# one of the folder's headers includes it, PRIVATE otherwise, and each is a
# folder the sources include: scripts/check_includes.py checks both.
function(myriad_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target myriad_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(Myriad::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>"
    "$<BUILD_INTERFACE:${MYRIAD_GENERATED_DIR}>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/myriad>")
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  set_property(GLOBAL APPEND PROPERTY MYRIAD_LIBRARIES ${target})
endfunction()

# myriad_add_test(<name> SOURCES ... [DEPS ...] [LABELS ...] [TIMEOUT s])
# One GoogleTest executable, registered with CTest test by test. Label `unit`
# marks the tests that the sanitizer builds also run. DEPS names what the
# test includes; a test that forks ranks or runs processes lists
# myriad_test_harness (tests/harness/) there too.
function(myriad_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  # One label per test: gtest_discover_tests keeps only a list's first
  # element in PRE_TEST mode. Labels are matched as regular expressions, so
  # a test in two groups takes a compound label ("collectives-asan" is
  # selected by both `-L collectives` and `-L asan`).
  list(LENGTH ARG_LABELS label_count)
  if(label_count GREATER 1)
    message(FATAL_ERROR "myriad_add_test(${name}): one label, not '${ARG_LABELS}'")
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
