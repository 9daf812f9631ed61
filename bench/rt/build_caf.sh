#!/usr/bin/env bash
# Builds the pinned CAF release the Savina peers in bench/rt/caf link against, once, into
# $CAPSULE_CACHE_DIR/caf-<version> (default ~/.cache/capsule/caf-1.1.0), and prints its install
# prefix on stdout. Later runs find the stamp and return at once.
#
# Source: a git directory holding the tag (CAPSULE_CAF_GIT_DIR; default: the mirror the agent
# `fetch` tool leaves under /work/.mirror), else a shallow clone from GitHub. The tag must
# resolve to the pinned commit. Only libcaf_core is needed (no I/O, net or OpenSSL modules), so
# the build needs CMake, Ninja and a C++17 compiler; ~3 min on 2 cores.
#
# Flags match the capsule side of the comparison (the `bench` preset): RelWithDebInfo
# (-O2 -g -DNDEBUG), C++20, the same g++.
set -euo pipefail

CAF_VERSION=1.1.0
CAF_COMMIT=97e03500422f0ac48e35fee510d570e16b43a65e
CACHE="${CAPSULE_CACHE_DIR:-$HOME/.cache/capsule}"
root="$CACHE/caf-$CAF_VERSION"
prefix="$root/install"
build_type=RelWithDebInfo
cxx="${CXX:-g++}"
stamp_text="caf $CAF_VERSION $CAF_COMMIT $build_type c++20 $("$cxx" --version | head -1)"

if [[ -f "$root/stamp" && "$(cat "$root/stamp")" == "$stamp_text" &&
      -f "$prefix/lib/cmake/CAF/CAFConfig.cmake" ]]; then
  echo "$prefix"
  exit 0
fi

log() { echo "build_caf: $*" >&2; }
rm -rf "$root"
mkdir -p "$root/src"
git_dir="${CAPSULE_CAF_GIT_DIR:-/work/.mirror/actor-framework+actor-framework/repo}"
if [[ ! -d "$git_dir" ]]; then
  log "no git directory at $git_dir: cloning tag $CAF_VERSION from GitHub"
  git_dir="$root/git"
  git clone --quiet --bare --depth 1 --branch "$CAF_VERSION" \
    https://github.com/actor-framework/actor-framework.git "$git_dir" >&2
fi
commit=$(git --git-dir="$git_dir" rev-parse "$CAF_VERSION^{commit}")
if [[ "$commit" != "$CAF_COMMIT" ]]; then
  log "tag $CAF_VERSION is $commit in $git_dir, expected $CAF_COMMIT"
  exit 1
fi
git --git-dir="$git_dir" archive "$CAF_COMMIT" | tar -x -C "$root/src"

log "building CAF $CAF_VERSION ($CAF_COMMIT) in $root"
cmake -S "$root/src" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=$build_type \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_INSTALL_PREFIX="$prefix" -DCAF_CXX_VERSION=20 \
  -DCAF_ENABLE_EXAMPLES=OFF -DCAF_ENABLE_TESTING=OFF -DCAF_ENABLE_IO_MODULE=OFF \
  -DCAF_ENABLE_NET_MODULE=OFF -DCAF_ENABLE_OPENSSL_MODULE=OFF >"$root/configure.log" 2>&1 ||
  { log "configure failed, see $root/configure.log"; exit 1; }
cmake --build "$root/build" -j "${CAPSULE_BUILD_JOBS:-2}" >"$root/build.log" 2>&1 ||
  { log "build failed, see $root/build.log"; exit 1; }
cmake --install "$root/build" >"$root/install.log" 2>&1 ||
  { log "install failed, see $root/install.log"; exit 1; }
rm -rf "$root/build"  # the install prefix is all the benchmarks need
echo "$stamp_text" >"$root/stamp"
echo "$prefix"
