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
install(FILES "${MYRIAD_GENERATED_DIR}/myriad_config.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/myriad")
install(EXPORT MyriadTargets NAMESPACE Myriad:: DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/MyriadConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/MyriadConfig.cmake"
  INSTALL_DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/MyriadConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/MyriadConfig.cmake" "${PROJECT_BINARY_DIR}/MyriadConfigVersion.cmake"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/Myriad")
