# Imports the Wasmtime C API that scripts/bootstrap.sh builds with cargo from
# third_party/wasmtime-capi (pinned wasmtime-c-api-impl =48.0.0) into CAPSULE_CACHE_DIR.
set(CAPSULE_WASMTIME_DIR "${CAPSULE_CACHE_DIR}/wasmtime-48" CACHE PATH "Built Wasmtime C API")
set(_capsule_wasmtime_lib "${CAPSULE_WASMTIME_DIR}/target/release/libcapsule_wasmtime_capi.a")
set(_capsule_wasmtime_inc "${CAPSULE_WASMTIME_DIR}/include")
if(NOT EXISTS "${_capsule_wasmtime_lib}" OR NOT EXISTS "${_capsule_wasmtime_inc}/wasmtime.hh")
  message(FATAL_ERROR
    "Wasmtime C API not found under ${CAPSULE_WASMTIME_DIR}.\n"
    "Run scripts/bootstrap.sh first (it builds the pinned crate with cargo), "
    "or pass -DCAPSULE_WASMTIME_DIR=<dir with include/ and target/release/>.")
endif()
find_package(Threads REQUIRED)
# Named capsule::wasmtime_capi as the installed package names it (capsuleConfig.cmake), so the
# exported link interface of capsule::wasm refers to the same target in both trees.
add_library(capsule::wasmtime_capi STATIC IMPORTED GLOBAL)
add_library(capsule_wasmtime_capi ALIAS capsule::wasmtime_capi)
set_target_properties(capsule::wasmtime_capi PROPERTIES
  IMPORTED_LOCATION "${_capsule_wasmtime_lib}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_capsule_wasmtime_inc}"
  INTERFACE_INCLUDE_DIRECTORIES "${_capsule_wasmtime_inc}"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;dl;m")
