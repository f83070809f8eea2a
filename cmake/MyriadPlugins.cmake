# myriad_add_plugin(<target> SOURCES ... [DEPS ...] [BACKEND])
# A plugin: a MODULE library that holds one heavy dependency (MPI, NCCL, the
# CUDA runtime, cuBLAS) and is loaded with dlopen only by the code that needs
# it (collectives/plugin.h), so that nothing else maps that dependency. Every
# plugin is written next to libmyriad_collectives, in the build tree and in
# the install, which is where the loader looks after MYRIAD_PLUGIN_PATH.
# BACKEND marks a collectives backend plugin (libmyriad_backend_<name>.so):
# the Python wheel installs those beside its copy of the libraries.
# Plugins are not part of Myriad::myriad: a consumer never links them.
function(myriad_add_plugin target)
  cmake_parse_arguments(ARG "BACKEND" "" "SOURCES;DEPS" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE myriad_collectives ${ARG_DEPS})
  set_target_properties(${target} PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY "$<TARGET_FILE_DIR:myriad_collectives>"
    # Only the entry point is the plugin's interface; nothing of its own can
    # interpose on the libraries that load it.
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    INSTALL_RPATH "$ORIGIN")
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set_property(GLOBAL APPEND PROPERTY MYRIAD_PLUGINS ${target})
  if(ARG_BACKEND)
    set_property(GLOBAL APPEND PROPERTY MYRIAD_BACKEND_PLUGINS ${target})
  endif()
endfunction()
