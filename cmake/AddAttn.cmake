# Helpers that build attn libraries and export them in the project's own
# AttnTargets export set (add_mlir_dialect_library would register them in
# MLIR's set instead). Modelled on CIRCT's AddCIRCT.cmake.
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set_property(GLOBAL PROPERTY ATTN_EXPORTED_LIBS "")

# The MLIR and LLVM libraries every attn library uses. The exported
# Attn::AttnMLIR carries only the link dependencies: AttnConfig.cmake adds the
# include directories and definitions of the MLIR package the consumer finds,
# so the install tree does not hard-code the build machine's paths.
add_library(AttnMLIR INTERFACE)
target_link_libraries(AttnMLIR INTERFACE MLIR LLVM)
install(TARGETS AttnMLIR EXPORT AttnTargets)

# attn_add_library(name SRCS... [DEPENDS tgts...] [LINK_LIBS libs...])
function(attn_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS} AttnMLIR)
  target_include_directories(${name} PUBLIC
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  install(TARGETS ${name} EXPORT AttnTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set_property(GLOBAL APPEND PROPERTY ATTN_EXPORTED_LIBS ${name})
endfunction()

function(attn_install_package)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/dialects/attn
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
  install(DIRECTORY ${PROJECT_BINARY_DIR}/dialects/attn
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.inc" PATTERN "*.h"
          PATTERN "CMakeFiles" EXCLUDE)
  set(ATTN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/attn)
  install(EXPORT AttnTargets NAMESPACE Attn::
          DESTINATION ${ATTN_CMAKE_DIR})
  configure_package_config_file(
    ${PROJECT_SOURCE_DIR}/cmake/AttnConfig.cmake.in
    ${PROJECT_BINARY_DIR}/AttnConfig.cmake
    INSTALL_DESTINATION ${ATTN_CMAKE_DIR}
    PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
  write_basic_package_version_file(
    ${PROJECT_BINARY_DIR}/AttnConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/AttnConfig.cmake
                ${PROJECT_BINARY_DIR}/AttnConfigVersion.cmake
          DESTINATION ${ATTN_CMAKE_DIR})
  install(TARGETS attn-opt attn-translate attn-run attn-compile attn-aot-run
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
