# `cmake --install`: the `capsule` binary, the C++ libraries with their public headers as the CMake
# package `capsule` (find_package(capsule): targets capsule::core, rt, wasm, security, storage,
# component, cluster), and under share/capsule what component projects build with: the guest CMake
# module, the guest SDK, the WIT contract, the vendored WASI WIT and the WASI adapter. The layout
# under share/capsule mirrors the repository's (cmake/, wit/, guest/sdk/, third_party/wasi-wit/),
# so CapsuleGuest.cmake finds its files by the same relative paths in both places.
include(CMakePackageConfigHelpers)

set(CAPSULE_INSTALL_DATADIR "${CMAKE_INSTALL_DATADIR}/capsule")

install(TARGETS capsule RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS capsule_core capsule_rt capsule_wasm capsule_security capsule_storage
                capsule_component capsule_cluster
        EXPORT capsuleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Only include/capsule is public: nothing under src/ is needed to compile against these headers.
# capsule_manifest and capsule_daemon (src/manifest, src/daemon) are the `capsule` binary's own
# layers, with private headers: linked into bin/capsule, not exported as capsule::* targets.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/capsule DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The Wasmtime C API (static, from the Rust shim) that libcapsule_wasm.a links: capsuleConfig.cmake
# imports it as capsule::wasmtime_capi.
get_target_property(_capsule_capi_lib capsule::wasmtime_capi IMPORTED_LOCATION)
install(FILES ${_capsule_capi_lib} DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT capsuleTargets NAMESPACE capsule:: DESTINATION ${CAPSULE_INSTALL_CMAKEDIR})

set(CAPSULE_CAPI_LIB_NAME libcapsule_wasmtime_capi.a)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/capsuleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/capsuleConfig.cmake
  INSTALL_DESTINATION ${CAPSULE_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR CAPSULE_INSTALL_DATADIR)
# 0.x: a minor version may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/capsuleConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/capsuleConfig.cmake
              ${PROJECT_BINARY_DIR}/capsuleConfigVersion.cmake
        DESTINATION ${CAPSULE_INSTALL_CMAKEDIR})

# The guest side, for `find_package(capsule COMPONENTS guest)` and projects from `capsule new`.
install(FILES ${PROJECT_SOURCE_DIR}/cmake/CapsuleGuest.cmake
              ${PROJECT_SOURCE_DIR}/cmake/CapsuleGoComponent.cmake
              ${PROJECT_SOURCE_DIR}/cmake/CapsuleGoArena.py
        DESTINATION ${CAPSULE_INSTALL_DATADIR}/cmake)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/wit/ DESTINATION ${CAPSULE_INSTALL_DATADIR}/wit
        FILES_MATCHING PATTERN "*.wit")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/guest/sdk/ DESTINATION ${CAPSULE_INSTALL_DATADIR}/guest/sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/guest/go/witrt/ DESTINATION ${CAPSULE_INSTALL_DATADIR}/guest/go/witrt)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/third_party/wasi-wit/
        DESTINATION ${CAPSULE_INSTALL_DATADIR}/third_party/wasi-wit)
install(FILES ${CAPSULE_WASI_ADAPTER} DESTINATION ${CAPSULE_INSTALL_DATADIR}/adapter)
