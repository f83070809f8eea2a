# Installs the libraries, headers, the `myriad` command and a CMake package
# so that `find_package(Myriad)` + `target_link_libraries(x Myriad::myriad)`
# works from an outside project.
include(CMakePackageConfigHelpers)

get_property(_myriad_libs GLOBAL PROPERTY MYRIAD_LIBRARIES)
add_library(myriad INTERFACE)
target_link_libraries(myriad INTERFACE ${_myriad_libs})
set_target_properties(myriad PROPERTIES EXPORT_NAME myriad)

install(TARGETS ${_myriad_libs} myriad EXPORT MyriadTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The public API: the headers a C++ user includes (DESIGN.md: Communicator,
# Work, TensorView/DType, errors, the store and bootstrap, the checkpoint
# writer, reader and State), and the headers they include, found by
# following their includes. Nothing else is installed: the native engine,
# the kernels, the MPI and NCCL backends and every other internal header
# stay in the source tree, free to change. A public header lives at the top
# of its layer's folder; configuring fails when the closure reaches a
# subfolder (native/, detail/, mpi/, nccl/, cuda/: internals).
# tests/install checks that each installed header compiles on its own from
# the install prefix and that nothing unreachable from these is installed.
set(MYRIAD_PUBLIC_HEADERS
  runtime/error.h runtime/dtype.h runtime/config.h runtime/store.h runtime/tcp_store.h runtime/bootstrap.h
  collectives/communicator.h collectives/work.h
  checkpoint/checkpointer.h checkpoint/reader.h checkpoint/state.h)

# myriad_header_closure(<out> <header>...) sets <out> to the headers and every
# first-party header they include, transitively (paths from the source root).
function(myriad_header_closure out)
  set(closure "")
  set(pending ${ARGN})
  while(pending)
    list(POP_FRONT pending header)
    if(header IN_LIST closure)
      continue()
    endif()
    if(NOT EXISTS "${PROJECT_SOURCE_DIR}/${header}")
      message(FATAL_ERROR "MyriadInstall.cmake: public header ${header} does not exist")
    endif()
    if(header MATCHES "/.*/")
      message(FATAL_ERROR "MyriadInstall.cmake: ${header} is internal (a subfolder of its layer) "
                          "but a public header includes it; the public closure is ${closure}")
    endif()
    list(APPEND closure "${header}")
    file(STRINGS "${PROJECT_SOURCE_DIR}/${header}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]+)[\">].*" "\\1" included "${line}")
      # Only first-party headers: the project's includes name them from the
      # source root; the rest are system and third-party headers.
      if(EXISTS "${PROJECT_SOURCE_DIR}/${included}" AND NOT IS_DIRECTORY "${PROJECT_SOURCE_DIR}/${included}")
        list(APPEND pending "${included}")
      elseif(included STREQUAL "myriad_config.h")
        message(FATAL_ERROR "MyriadInstall.cmake: ${header} is public but includes myriad_config.h: "
                            "the build's feature flags are not part of the installed API")
      endif()
    endforeach()
  endwhile()
  set(${out} ${closure} PARENT_SCOPE)
endfunction()

myriad_header_closure(MYRIAD_INSTALLED_HEADERS ${MYRIAD_PUBLIC_HEADERS})
list(SORT MYRIAD_INSTALLED_HEADERS)
foreach(header IN LISTS MYRIAD_INSTALLED_HEADERS)
  get_filename_component(folder "${header}" DIRECTORY)
  install(FILES "${PROJECT_SOURCE_DIR}/${header}" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/myriad/${folder}")
  # An include added to a public header changes what is installed.
  set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/${header}")
endforeach()
# The roots, for tests/install (which recomputes the closure on its own).
list(JOIN MYRIAD_PUBLIC_HEADERS "\n" _myriad_roots)
file(WRITE "${PROJECT_BINARY_DIR}/myriad_public_headers.txt" "${_myriad_roots}\n")
list(LENGTH MYRIAD_INSTALLED_HEADERS _myriad_header_count)
message(STATUS "Myriad: ${_myriad_header_count} headers installed (the public API and what it includes)")
install(EXPORT MyriadTargets NAMESPACE Myriad:: DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/MyriadConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/MyriadConfig.cmake"
  INSTALL_DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/MyriadConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/MyriadConfig.cmake" "${PROJECT_BINARY_DIR}/MyriadConfigVersion.cmake"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")
