#!/usr/bin/env bash
# manage.sh: one entry point for building, running and testing Debt Tracker and its
# event store. `./manage.sh help` lists the commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-$ROOT/build-asan}"
FUZZ_BUILD_DIR="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- dependencies
# Every Debian package the project uses; README.md says why each is there.
DEB_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
  # libraries
  libboost-dev libboost-system-dev librocksdb-dev libsqlite3-dev libpq-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  # services and tools used by the tests, benchmarks and scripts
  postgresql postgresql-client curl wrk chromium procps lsof iproute2 python3
)

missing_packages() {
  local p
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

cmd_install_deps() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  if [ -n "${missing// }" ]; then
    say "installing Debian packages: $missing"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
  else
    say "all Debian packages present"
  fi
  if ! command -v node >/dev/null 2>&1; then
    say "installing Node.js and npm (Debian) for the browser tests"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm
  fi
  if [ -f tests/browser/package.json ] && [ ! -d tests/browser/node_modules ]; then
    say "installing npm packages for the browser tests"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_deps() {
  if [ -n "$(missing_packages)" ]; then cmd_install_deps; fi
}

# ---------------------------------------------------------------- build
cmake_build() {  # dir, extra cmake args...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  fi
  cmake --build "$dir" -j "$(nproc)"
}

cmd_build() {
  ensure_deps
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  say "building (Release) in $BUILD_DIR"
  cmake_build "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDT_WERROR="$werror"
}

# ---------------------------------------------------------------- test
cmd_test() {
  cmd_build
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  local pg_started=""
  if [ -z "${DT_TEST_PG_URL:-}" ]; then
    # A throwaway PostgreSQL server for the tests that need a real one.
    eval "$("$ROOT/scripts/test-postgres.sh" start)"
    pg_started=1
    trap '"$ROOT/scripts/test-postgres.sh" stop >/dev/null 2>&1 || true' EXIT
  fi
  export DT_TEST_PG_URL
  say "running the test suite (PostgreSQL at $DT_TEST_PG_URL)"
  ctest --test-dir "$BUILD_DIR" -j "$(nproc)" --output-on-failure --timeout 600

  say "building the engine with AddressSanitizer + UndefinedBehaviorSanitizer in $ASAN_BUILD_DIR"
  cmake_build "$ASAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DDT_SANITIZE=ON -DDT_ONLY_ENGINE=ON \
    -DDT_WERROR="$werror"
  say "running the engine tests under the sanitizers"
  ctest --test-dir "$ASAN_BUILD_DIR" -j "$(nproc)" --output-on-failure --timeout 900

  say "building the fuzz targets (clang, libFuzzer) in $FUZZ_BUILD_DIR"
  cmake_build "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDT_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDT_WERROR="$werror"
  say "short fuzz runs"
  ctest --test-dir "$FUZZ_BUILD_DIR" -j "$(nproc)" --output-on-failure -L fuzz

  if [ -n "$pg_started" ]; then "$ROOT/scripts/test-postgres.sh" stop >/dev/null; trap - EXIT; fi
  say "all tests passed"
}

# ---------------------------------------------------------------- help
cmd_help() {
  cat <<'EOF'
Usage: ./manage.sh <command> [args]

  install-deps   install every Debian package the project needs (idempotent)
  build          build everything (Release) into ./build
  test           build, then run the whole test suite: unit, integration (with a
                 throwaway PostgreSQL), sanitizer build of the engine, fuzz smoke runs
  help           this text
EOF
}

main() {
  local cmd="${1:-help}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    install-deps) cmd_install_deps "$@" ;;
    build) cmd_build "$@" ;;
    test) cmd_test "$@" ;;
    help|-h|--help) cmd_help ;;
    *) cmd_help >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
