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

# ---------------------------------------------------------------- Debt Tracker API (dt-server)
# Runs in the background with its pid in data/run/dt-server.pid and its log in
# data/logs/dt-server.log. Settings come from the environment (./build/src/bin/dt-server --help).
DATA_DIR="${DEBT_TRACKER_DATA_DIR:-$ROOT/data}"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
DT_SERVER_BIN="$BUILD_DIR/src/bin/dt-server"
DT_SERVER_PID="$RUN_DIR/dt-server.pid"

ensure_binary() {  # path
  [ -x "$1" ] || cmd_build
  [ -x "$1" ] || die "$1 was not built"
}

pid_alive() {  # pidfile
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

cmd_start_server() {
  ensure_binary "$DT_SERVER_BIN"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if pid_alive "$DT_SERVER_PID"; then
    say "dt-server already running (pid $(cat "$DT_SERVER_PID"))"
    return 0
  fi
  local port="${PORT:-8000}"
  say "starting dt-server on port $port (event store: ${EVENTSTORE_URL:-http://localhost:2113}, read model: ${DATABASE_URL:-sqlite:data/projections.db})"
  nohup "$DT_SERVER_BIN" >>"$LOG_DIR/dt-server.log" 2>&1 &
  echo $! >"$DT_SERVER_PID"
  local i
  for i in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      say "dt-server is up: http://localhost:$port (log: $LOG_DIR/dt-server.log)"
      return 0
    fi
    if ! pid_alive "$DT_SERVER_PID"; then
      tail -n 5 "$LOG_DIR/dt-server.log" >&2 || true
      rm -f "$DT_SERVER_PID"
      die "dt-server did not start (log: $LOG_DIR/dt-server.log)"
    fi
    sleep 0.1
  done
  die "dt-server did not answer on port $port within 10 s (log: $LOG_DIR/dt-server.log)"
}

cmd_stop_server() {
  if ! pid_alive "$DT_SERVER_PID"; then
    say "dt-server is not running"
    rm -f "$DT_SERVER_PID"
    return 0
  fi
  local pid i
  pid=$(cat "$DT_SERVER_PID")
  say "stopping dt-server (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$DT_SERVER_PID"; say "dt-server stopped"; return 0; }
    sleep 0.1
  done
  die "dt-server (pid $pid) did not stop within 15 s"
}

cmd_restart_server() {
  cmd_stop_server
  cmd_start_server
}

# Event store + API with nothing but the defaults: dt-eventstore on 2113, dt-server on 8000
# talking to it over HTTP, the read model in data/projections.db.
cmd_start() {
  if declare -F cmd_start_services >/dev/null; then
    cmd_start_services
  else
    local es_bin="$BUILD_DIR/src/bin/dt-eventstore" es_pid="$RUN_DIR/dt-eventstore.pid"
    ensure_binary "$es_bin"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    if ! pid_alive "$es_pid"; then
      say "starting dt-eventstore on port ${EVENTSTORE_HTTP_PORT:-2113}"
      EVENTSTORE_DB="${EVENTSTORE_DB:-$DATA_DIR/eventstore}" nohup "$es_bin" \
        >>"$LOG_DIR/dt-eventstore.log" 2>&1 &
      echo $! >"$es_pid"
    fi
    local i
    for i in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:${EVENTSTORE_HTTP_PORT:-2113}/health/live" >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  cmd_start_server
}

cmd_stop() {
  cmd_stop_server
  if declare -F cmd_stop_services >/dev/null; then cmd_stop_services; fi
}

cmd_rebuild_projections() {
  ensure_binary "$DT_SERVER_BIN"
  say "rebuilding the read model from every event"
  "$DT_SERVER_BIN" rebuild-projections
}

# ---------------------------------------------------------------- bench
cmd_bench() {  # [name [args...]]: one benchmark program with its arguments, or all of them
  cmd_build
  if [ $# -gt 0 ]; then
    local name="$1"; shift
    [ -x "$BUILD_DIR/bench/$name" ] || die "no benchmark '$name' in $BUILD_DIR/bench"
    "$BUILD_DIR/bench/$name" "$@"
    return
  fi
  local b
  for b in "$BUILD_DIR"/bench/*_bench; do
    [ -x "$b" ] || continue
    say "running $(basename "$b")"
    "$b"
  done
}

# ---------------------------------------------------------------- services
# The event store runs in the background; its pid file and log live in its data folder.
EVENTSTORE_DATA="${EVENTSTORE_DB:-$ROOT/data/eventstore}"
EVENTSTORE_PID="$EVENTSTORE_DATA/dt-eventstore.pid"
EVENTSTORE_LOG="$EVENTSTORE_DATA/dt-eventstore.log"

start_eventstore() {
  local port="${EVENTSTORE_HTTP_PORT:-2113}"
  if pid_alive "$EVENTSTORE_PID"; then
    say "event store already running (pid $(cat "$EVENTSTORE_PID")) on port $port"
    return
  fi
  ensure_binary "$BUILD_DIR/src/bin/dt-eventstore"
  mkdir -p "$EVENTSTORE_DATA"
  say "starting the event store (data: $EVENTSTORE_DATA, log: $EVENTSTORE_LOG)"
  EVENTSTORE_DB="$EVENTSTORE_DATA" nohup "$BUILD_DIR/src/bin/dt-eventstore" >>"$EVENTSTORE_LOG" 2>&1 &
  echo $! >"$EVENTSTORE_PID"
  local i
  for i in $(seq 1 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/health/live"; then
      say "event store ready: http://localhost:$port (web UI; admin / changeit)"
      return
    fi
    kill -0 "$(cat "$EVENTSTORE_PID")" 2>/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$EVENTSTORE_LOG" >&2
  die "the event store did not become ready; its log is $EVENTSTORE_LOG"
}

stop_pidfile() {  # pid file, name: SIGTERM, wait up to 30 s
  local pid i
  if ! pid_alive "$1"; then
    rm -f "$1"
    return
  fi
  pid=$(cat "$1")
  say "stopping $2 (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return; }
    sleep 0.2
  done
  die "$2 (pid $pid) did not stop within 30 s"
}

cmd_start_services() {
  local svc
  for svc in "${@:-eventstore}"; do
    case "$svc" in
      eventstore) start_eventstore ;;
      *) die "unknown service '$svc' (known: eventstore)" ;;
    esac
  done
}

cmd_stop_services() {
  stop_pidfile "$EVENTSTORE_PID" "the event store"
}

# ---------------------------------------------------------------- help
cmd_help() {
  cat <<'EOF'
Usage: ./manage.sh <command> [args]

  install-deps   install every Debian package the project needs (idempotent)
  build          build everything (Release) into ./build
  test           build, then run the whole test suite: unit, integration (with a
                 throwaway PostgreSQL), sanitizer build of the engine, fuzz smoke runs
  start          start the event store (port 2113) and the API (port 8000) with the defaults
  stop           stop the API, then the event store
  start-server   start the Debt Tracker API (dt-server) in the background
  stop-server    stop it (SIGTERM: in-flight requests finish)
  restart-server stop, then start it
  rebuild-projections  rebuild the read model from all events (progress, events/s, ETA)
  bench [name [args]]
                 build, then run the benchmark programs of bench/ (all, or one with its
                 arguments, e.g. `bench store_bench --quick`); figures: docs/BENCHMARKS.md
  start-services [eventstore]
                 start the event store in the background on port 2113 (EVENTSTORE_*
                 settings apply; pid file and log in its data folder ./data/eventstore)
  stop-services  stop the background services (SIGTERM: in-flight requests finish)
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
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    start-server) cmd_start_server "$@" ;;
    stop-server) cmd_stop_server "$@" ;;
    restart-server) cmd_restart_server "$@" ;;
    rebuild-projections) cmd_rebuild_projections "$@" ;;
    bench) cmd_bench "$@" ;;
    start-services) cmd_start_services "$@" ;;
    stop-services) cmd_stop_services "$@" ;;
    help|-h|--help) cmd_help ;;
    *) cmd_help >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
