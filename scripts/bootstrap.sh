#!/usr/bin/env bash
# Installs everything capsule needs on a Debian 12 machine, then exits. Idempotent: a second run
# checks versions and returns in seconds. Cargo output is cached under $CAPSULE_CACHE_DIR
# (default ~/.cache/capsule) so fresh clones and CI reuse it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CAPSULE_CACHE_DIR:-$HOME/.cache/capsule}"
WASM_TOOLS_VERSION=1.254.2     # wasmparser 0.254, the one Wasmtime 48 uses
WIT_BINDGEN_VERSION=0.60.0     # wit-component 0.254, same encoder generation
COMPONENTIZE_PY_VERSION=0.25.1 # Python guests; pinned with hashes in scripts/python-guest-requirements.txt
COMPONENTIZE_JS_VERSION=0.23.0 # JavaScript guests; pinned with its tree in scripts/js-guest/package-lock.json
NODE_MIN_VERSION=20.19.0       # componentize-js 0.23's parser (oxc-parser) needs ^20.19 or >=22.12
GO_MIN_VERSION=1.24            # //go:wasmexport (Go guests), the machine's Go; not installed here
NATS_SERVER_FENCING_VERSION=2.14.9 # server-checked storage fencing (>= 2.11); Debian's is 2.9.10
START=$(date +%s)

step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - START ))"; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 python3-venv
  clang-19 lld-19 libclang-rt-19-dev wasi-libc libclang-rt-19-dev-wasm32 libc++-19-dev-wasm32 libc++abi-19-dev-wasm32 clang-format-19 clang-tidy-19
  libasio-dev libsqlite3-dev sqlite3 libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev libssl-dev
  nats-server libnats-dev
  libcpp-httplib-dev zlib1g-dev libbrotli-dev
  # e2e.dashboard drives Debian's Chromium (/usr/bin/chromium) headless with Playwright (below);
  # chromium-driver is its WebDriver, for anyone who prefers Selenium.
  chromium chromium-driver nodejs
  # /usr/bin/promtool: e2e.metrics checks GET /metrics with `promtool check metrics`. Debian has
  # no promtool-only package; on a systemd machine this also enables a Prometheus server on :9090
  # (`systemctl disable --now prometheus` if unwanted; the tests never use it).
  prometheus
  # bench/http/http_trigger_bench.py: the HTTP trigger's load generator.
  wrk
  # Rust guests: rustup cannot fetch a wasm32 standard library here, so Debian's own Rust 1.96
  # (bookworm-security's rustc-web, for building browsers) builds one from its sources
  # (rust-web-src) with -Zbuild-std (docs/writing-components.md, "Rust"). /usr/bin/rustc and
  # /usr/bin/cargo stay behind rustup's on PATH; the host's shim keeps using rustup's 1.95.
  rustc-web cargo-web rust-web-src
  # install.deb: `cpack -G DEB` computes Depends with dpkg-shlibdeps; the test reads the binary's
  # DT_NEEDED with objdump (binutils).
  dpkg-dev binutils
)

step "Debian packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# Debian ships npm apart from nodejs (NodeSource's nodejs brings its own): only when missing.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
else
  echo "all ${#APT_PACKAGES[@]} packages present"
fi

step "Rust toolchain"
command -v cargo >/dev/null || die "cargo not found: install Rust 1.95 (rustup) first"
rustc_version=$(rustc --version | awk '{print $2}')
echo "rustc $rustc_version"
[ "$(printf '%s\n1.95.0\n' "$rustc_version" | sort -V | head -1)" = "1.95.0" ] ||
  die "rustc $rustc_version is older than 1.95.0, which wasmtime-c-api-impl 48 needs"

step "Wasmtime C API 48 (cargo, cached in $CACHE/wasmtime-48; a cold build takes ~15 min on 2 cores)"
capi_dir="$CACHE/wasmtime-48"
# build.rs copies the generated headers only when it runs; force it if they went missing.
[ -f "$capi_dir/include/wasmtime.hh" ] || touch "$ROOT/third_party/wasmtime-capi/build.rs"
CAPSULE_CAPI_INCLUDE_OUT="$capi_dir/include" cargo build --locked --release \
  --manifest-path "$ROOT/third_party/wasmtime-capi/Cargo.toml" --target-dir "$capi_dir/target"
[ -f "$capi_dir/target/release/libcapsule_wasmtime_capi.a" ] || die "Wasmtime static library missing"
[ -f "$capi_dir/include/wasmtime/component.hh" ] || die "Wasmtime headers missing"

step "Guest tools: wasm-tools $WASM_TOOLS_VERSION, wit-bindgen $WIT_BINDGEN_VERSION"
tools="$CACHE/tools"
install_tool() {  # crate version binary
  local have
  have=$("$tools/bin/$3" --version 2>/dev/null | awk '{print $2}') || true
  if [ "$have" = "$2" ]; then echo "$3 $have present"; return; fi
  cargo install --locked --root "$tools" --target-dir "$CACHE/tools-target" "$1@$2"
}
install_tool wasm-tools "$WASM_TOOLS_VERSION" wasm-tools
install_tool wit-bindgen-cli "$WIT_BINDGEN_VERSION" wit-bindgen

step "WASI preview1 reactor adapter (crate wasi-preview1-component-adapter-provider 48.0.8)"
adapter="$CACHE/adapter/wasi_snapshot_preview1.reactor.wasm"
if [ ! -s "$adapter" ]; then
  mkdir -p "$(dirname "$adapter")"
  cargo run --quiet --locked --release --manifest-path "$ROOT/third_party/wasi-adapter/Cargo.toml" \
    --target-dir "$CACHE/adapter-target" -- "$adapter"
fi
echo "$adapter ($(stat -c %s "$adapter") bytes)"

step "Python guests: componentize-py $COMPONENTIZE_PY_VERSION (venv in $CACHE/py-guest-venv)"
venv="$CACHE/py-guest-venv"
have=$("$venv/bin/componentize-py" --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" = "$COMPONENTIZE_PY_VERSION" ]; then
  echo "componentize-py $have present"
else
  # Debian's interpreter, not whatever python3 is first on PATH: the venv must outlive pyenv &co.
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$ROOT/scripts/python-guest-requirements.txt"
  have=$("$venv/bin/componentize-py" --version | awk '{print $2}')
  [ "$have" = "$COMPONENTIZE_PY_VERSION" ] ||
    die "componentize-py $have installed, $COMPONENTIZE_PY_VERSION expected (python-guest-requirements.txt)"
  echo "componentize-py $have installed"
fi

step "Playwright for e2e.dashboard (npm playwright-core, pinned in tests/e2e/dashboard/package-lock.json)"
# Only the driver library: it is pointed at /usr/bin/chromium, so no browser is downloaded
# (never `npx playwright install`: CI has no internet beyond the package registries).
pw="$CACHE/playwright"
want=$(sed -n 's/.*"playwright-core": "\([0-9.]*\)".*/\1/p' "$ROOT/tests/e2e/dashboard/package.json")
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$pw/node_modules/playwright-core/package.json" 2>/dev/null) || true
if [ "$have" = "$want" ] && cmp -s "$ROOT/tests/e2e/dashboard/package-lock.json" "$pw/package-lock.json"; then
  echo "playwright-core $have present"
else
  mkdir -p "$pw"
  cp "$ROOT/tests/e2e/dashboard/package.json" "$ROOT/tests/e2e/dashboard/package-lock.json" "$pw/"
  (cd "$pw" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error </dev/null)
  echo "playwright-core $want installed in $pw"
fi

step "JavaScript guests: componentize-js $COMPONENTIZE_JS_VERSION (npm ci into $CACHE/js-guest)"
# nodejs comes from the packages above, but Debian 12's is 18.x, too old for componentize-js 0.23
# (NodeSource's 20+ serves). Without a Node >= $NODE_MIN_VERSION the JavaScript guests are skipped -
# except in CI (CI set), where every language's examples must build.
js="$CACHE/js-guest"
node_version=$(node --version 2>/dev/null | sed 's/^v//') || true
if [ -z "$node_version" ] || ! command -v npm >/dev/null ||
   [ "$(printf '%s\n%s\n' "$node_version" "$NODE_MIN_VERSION" | sort -V | head -1)" != "$NODE_MIN_VERSION" ]; then
  msg="node ${node_version:-not found} (need >= $NODE_MIN_VERSION with npm): JavaScript guests are skipped"
  [ -n "${CI:-}" ] && die "$msg, which CI does not allow; install Node.js $NODE_MIN_VERSION+ first"
  echo "$msg"
else
  # The lockfile's hash is the stamp: an unchanged lockfile with its binary present is done.
  stamp=$(sha256sum "$ROOT/scripts/js-guest/package-lock.json" | awk '{print $1}')
  if [ "$(cat "$js/.capsule-lock-sha256" 2>/dev/null)" = "$stamp" ] &&
     [ -x "$js/node_modules/.bin/componentize-js" ] && [ -x "$js/node_modules/.bin/componentize-qjs" ]; then
    echo "componentize-js present (node $node_version)"
  else
    rm -rf "$js"
    mkdir -p "$js"
    cp "$ROOT/scripts/js-guest/package.json" "$ROOT/scripts/js-guest/package-lock.json" "$js/"
    # --ignore-scripts: nothing runs at install time (none of the packages needs it); everything
    # comes from the npm registry, checked against the lockfile's integrity hashes.
    npm ci --prefix "$js" --ignore-scripts --no-audit --no-fund --omit=dev \
      --cache "$CACHE/npm-cache" --loglevel=error </dev/null
    echo "$stamp" >"$js/.capsule-lock-sha256"
  fi
  have=$(node -p "require('$js/node_modules/@bytecodealliance/componentize-js/package.json').version")
  [ "$have" = "$COMPONENTIZE_JS_VERSION" ] ||
    die "componentize-js $have installed, $COMPONENTIZE_JS_VERSION expected (scripts/js-guest/package-lock.json)"
  qjs=$(node -p "require('$js/node_modules/componentize-qjs/package.json').version")
  echo "componentize-js $have, componentize-qjs $qjs (jco's QuickJS backend) (node $node_version)"
fi

step "Go guests: the machine's Go (>= $GO_MIN_VERSION, for //go:wasmexport on GOOS=wasip1)"
# Nothing to install: Debian 12's golang is 1.19, and the Go toolchain is not fetched (the Go guests'
# bindings need no module download either: guest/go/witrt). The machine's Go (/usr/local/go on
# ours) is used as it is; without one >= $GO_MIN_VERSION the Go guests are skipped - except in CI.
go_bin=$(command -v go || ls /usr/local/go/bin/go 2>/dev/null || true)
go_version=$([ -n "$go_bin" ] && "$go_bin" env GOVERSION 2>/dev/null | sed 's/^go//') || true
if [ -z "$go_version" ] ||
   [ "$(printf '%s\n%s\n' "$go_version" "$GO_MIN_VERSION" | sort -V | head -1)" != "$GO_MIN_VERSION" ]; then
  msg="go ${go_version:-not found} (need >= $GO_MIN_VERSION): Go guests are skipped"
  [ -n "${CI:-}" ] && die "$msg, which CI does not allow; install Go $GO_MIN_VERSION+ first"
  echo "$msg"
else
  echo "go $go_version ($go_bin)"
fi

step "nats-server $NATS_SERVER_FENCING_VERSION (server-checked fencing of failover storage; Go module proxy)"
# Debian's nats-server 2.9.10 stays the server of most tests. Fencing failover units' storage on
# the server needs a condition over a key pattern (Nats-Expected-Last-Subject-Sequence-Subject,
# nats-server >= 2.11: docs/cluster.md, "Leases"), so the tests of it run on this one, built from
# source by the machine's Go (above) into the cache. `go install` checks every module it fetches
# against the Go checksum database. -p=1: the machine is shared.
nats_fencing_dir="$CACHE/nats-server-${NATS_SERVER_FENCING_VERSION%.*}"
nats_fencing="$nats_fencing_dir/bin/nats-server"
if [ -x "$nats_fencing" ] &&
   [ "$("$nats_fencing" --version 2>/dev/null)" = "nats-server: v$NATS_SERVER_FENCING_VERSION" ]; then
  echo "nats-server v$NATS_SERVER_FENCING_VERSION ($nats_fencing, cached)"
elif [ -z "$go_version" ] ||
     [ "$(printf '%s\n%s\n' "$go_version" 1.25 | sort -V | head -1)" != 1.25 ]; then
  msg="go ${go_version:-not found} (nats-server $NATS_SERVER_FENCING_VERSION needs >= 1.25): the server-checked fencing tests are skipped"
  [ -n "${CI:-}" ] && die "$msg, which CI does not allow"
  echo "$msg"
else
  GOPATH="$CACHE/go-build/gopath" GOBIN="$nats_fencing_dir/bin" GOFLAGS=-p=1 \
    "$go_bin" install "github.com/nats-io/nats-server/v2@v$NATS_SERVER_FENCING_VERSION"
  have=$("$nats_fencing" --version)
  [ "$have" = "nats-server: v$NATS_SERVER_FENCING_VERSION" ] ||
    die "$nats_fencing says '$have', v$NATS_SERVER_FENCING_VERSION expected"
  echo "$have ($nats_fencing)"
fi

step "bootstrap done"
