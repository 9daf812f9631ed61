# `cpack -G DEB` in a build dir: one .deb with everything `cmake --install` installs (under /usr).
# Depends: the shared libraries the `capsule` binary links, computed by dpkg-shlibdeps. Recommends:
# what is needed beyond running the binary - the -dev packages find_package(capsule) looks for
# (capsuleConfig.cmake) and the guest toolchain CapsuleGuest.cmake uses (wasm-tools and
# wit-bindgen are not in Debian: scripts/bootstrap.sh, or cargo install).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME capsule)
set(CPACK_PACKAGE_VENDOR "capsule")
set(CPACK_PACKAGE_CONTACT "capsule maintainers <capsule@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Runs WebAssembly components as sandboxed, supervised actors (host, C++ libraries, guest SDK)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "libasio-dev, libssl-dev, libsqlite3-dev, libnats-dev, nlohmann-json3-dev, cmake (>= 3.25), g++ (>= 4:12), clang-19, lld-19, wasi-libc, libclang-rt-19-dev-wasm32")
# zstd (dpkg >= 1.21.18: Debian 12): the package holds the 130 MB Wasmtime static library, which
# xz takes minutes to compress on 2 cores; zstd takes seconds and compresses it as well as gzip.
set(CPACK_DEBIAN_COMPRESSION_TYPE zstd)
set(CPACK_THREADS 2)
# The binary without its debug info (RelWithDebInfo: 140 MB of it); static libraries are kept as
# built (CMake strips only executables and shared libraries).
set(CPACK_STRIP_FILES TRUE)
include(CPack)
