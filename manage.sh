#!/usr/bin/env bash
# manage.sh: one entry point for installing, building, running and testing Debt Tracker and
# its event store. `./manage.sh help` lists the commands; README.md explains them.
#
# Settings come from the environment, then from ./.env (see .env.example); the environment
# wins. Everything the commands start runs in the background with its pid file in
# ./data/run and its log in ./data/logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- configuration (.env)
# Every setting the project reads; .env.example documents each. A name in .env that is not
# here is reported (a typo would otherwise be silently ignored).
KNOWN_SETTINGS=(
  PORT EVENTSTORE_URL EVENTSTORE_USERNAME EVENTSTORE_PASSWORD DATABASE_URL JWT_SECRET
  JWT_EXPIRATION DEBT_TRACKER_BOOTSTRAP_USER DEBT_TRACKER_DATA_DIR DEBT_TRACKER_BIND
  DEBT_TRACKER_ALLOW_REGISTRATION DEBT_TRACKER_WORKERS DEBT_TRACKER_READ_YOUR_WRITES_MS
  DEBT_TRACKER_LOG_FILE DEBT_TRACKER_READY_MAX_LAG_EVENTS DEBT_TRACKER_READY_MAX_LAG_SECONDS
  DEBT_TRACKER_WS_QUEUE DEBT_TRACKER_WS_IDLE_MS LOG_LEVEL DEBT_TRACKER_ADMIN_USERS
  EVENTSTORE_DB EVENTSTORE_HTTP_PORT EVENTSTORE_NODE_IP EVENTSTORE_INSECURE
  EVENTSTORE_DEFAULT_ADMIN_PASSWORD EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP
  EVENTSTORE_RUN_PROJECTIONS EVENTSTORE_LOG EVENTSTORE_LOG_LEVEL EVENTSTORE_LOG_HTTP_REQUESTS
  EVENTSTORE_MAX_APPEND_SIZE EVENTSTORE_MAX_CONNECTIONS EVENTSTORE_HTTP_THREADS
  EVENTSTORE_WORKER_THREADS EVENTSTORE_SEGMENT_SIZE
  BUILD_DIR ASAN_BUILD_DIR FUZZ_BUILD_DIR MANAGE_SKIP_BUILD DT_TEST_PG_URL POSTGRES_PASSWORD
)

load_env_file() {  # file: NAME=value lines; sets only names not already in the environment
  local file="$1" line name value n=0
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    line="${line#export }"
    if [[ ! "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      die "$file line $n: expected NAME=value, got: $line"
    fi
    name="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    if [[ "$value" =~ ^\"([^\"]*)\"[[:space:]]*(#.*)?$ ]] || [[ "$value" =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]]; then
      value="${BASH_REMATCH[1]}"
    elif [[ "$value" =~ ^[\"\'] ]]; then
      die "$file line $n: unterminated quote in: $line"
    else
      value="${value%%[[:space:]]#*}"   # an unquoted value ends at " #comment"
      value="${value%"${value##*[![:space:]]}"}"
    fi
    if [[ " ${KNOWN_SETTINGS[*]} " != *" $name "* ]]; then
      warn "$file line $n: $name is not a setting of this project (see .env.example)"
    fi
    if [ -z "${!name+x}" ]; then
      export "$name=$value"
    fi
  done <"$file"
}
load_env_file "${DT_ENV_FILE:-$ROOT/.env}"

BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-$ROOT/build-asan}"
FUZZ_BUILD_DIR="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"

abs_path() {  # a path relative to the repository root made absolute
  case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/${1#./}" ;; esac
}

DATA_DIR="$(abs_path "${DEBT_TRACKER_DATA_DIR:-data}")"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"

DT_SERVER_BIN="$BUILD_DIR/src/bin/dt-server"
DT_SERVER_PID="$RUN_DIR/dt-server.pid"
DT_SERVER_LOG="$(abs_path "${DEBT_TRACKER_LOG_FILE:-$LOG_DIR/dt-server.log}")"
DT_SERVER_ERR="$LOG_DIR/dt-server.stderr.log"

ES_BIN="$BUILD_DIR/src/bin/dt-eventstore"
ES_PID="$RUN_DIR/dt-eventstore.pid"
ES_DATA="$(abs_path "${EVENTSTORE_DB:-$DATA_DIR/eventstore}")"
ES_LOG_DIR="$(abs_path "${EVENTSTORE_LOG:-$LOG_DIR}")"
ES_LOG="$ES_LOG_DIR/dt-eventstore.log"
ES_ERR="$LOG_DIR/dt-eventstore.stderr.log"

is_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# URL pieces (python3 is a dependency anyway): scheme host port path user password.
url_parts() {
  python3 - "$1" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
try:
    port = u.port
except ValueError:
    port = "bad"
print(u.scheme, u.hostname or "-", port if port is not None else "-", (u.path or "/").lstrip("/") or "-",
      urllib.parse.unquote(u.username or "") or "-", "set" if u.password else "-")
PY
}

is_local_host() {
  case "$1" in
    localhost|127.*|::1|0.0.0.0|"$(hostname)"|"$(hostname -f 2>/dev/null || true)") return 0 ;;
    *) return 1 ;;
  esac
}

# Works out, once, what `start` has to run, and checks the settings manage.sh itself uses:
#   ES_MODE   local (dt-eventstore managed here) | file (engine inside dt-server) | remote
#   PG_MODE   none (SQLite) | local (PostgreSQL on this machine) | remote
# A bad setting stops with one line naming it.
resolve_config() {
  [ -n "${RESOLVED:-}" ] && return 0
  RESOLVED=1
  API_PORT="${PORT:-8000}"
  is_port "$API_PORT" || die "PORT='$API_PORT' is invalid: must be a port number 1-65535"
  if [ -n "${EVENTSTORE_HTTP_PORT:-}" ] && ! is_port "$EVENTSTORE_HTTP_PORT"; then
    die "EVENTSTORE_HTTP_PORT='$EVENTSTORE_HTTP_PORT' is invalid: must be a port number 1-65535"
  fi
  ES_HOST="${EVENTSTORE_NODE_IP:-127.0.0.1}"
  if [ -z "${EVENTSTORE_URL:-}" ]; then
    ES_PORT="${EVENTSTORE_HTTP_PORT:-2113}"
    export EVENTSTORE_URL="http://localhost:$ES_PORT"
    ES_MODE=local
  elif [[ "$EVENTSTORE_URL" == file:* ]]; then
    ES_MODE=file
    local folder="${EVENTSTORE_URL#file:}"
    [ -n "$folder" ] || die "EVENTSTORE_URL='$EVENTSTORE_URL' is invalid: file: needs a folder (file:data/eventstore)"
    export EVENTSTORE_URL="file:$(abs_path "$folder")"
    ES_DATA="${EVENTSTORE_URL#file:}"
  else
    local scheme host port rest
    read -r scheme host port rest < <(url_parts "$EVENTSTORE_URL")
    case "$scheme" in http|https) ;; *)
      die "EVENTSTORE_URL='$EVENTSTORE_URL' is invalid: use http://host:port or file:<folder>" ;;
    esac
    [ "$port" = bad ] && die "EVENTSTORE_URL='$EVENTSTORE_URL' is invalid: bad port"
    [ "$port" = - ] && port=$([ "$scheme" = https ] && echo 443 || echo 80)
    if is_local_host "$host"; then
      ES_MODE=local
      ES_PORT="${EVENTSTORE_HTTP_PORT:-$port}"
      [ "$ES_PORT" = "$port" ] || die "EVENTSTORE_URL='$EVENTSTORE_URL' is invalid: its port $port differs from EVENTSTORE_HTTP_PORT=$ES_PORT"
    else
      ES_MODE=remote
    fi
  fi
  ES_PORT="${ES_PORT:-${EVENTSTORE_HTTP_PORT:-2113}}"

  if [ -z "${DATABASE_URL:-}" ]; then
    export DATABASE_URL="sqlite:$DATA_DIR/projections.db"
  fi
  case "$DATABASE_URL" in
    sqlite:*)
      PG_MODE=none
      local p="${DATABASE_URL#sqlite:}"
      [ -n "$p" ] || die "DATABASE_URL='sqlite:' is invalid: name a file (sqlite:data/projections.db)"
      export DATABASE_URL="sqlite:$(abs_path "$p")"
      SQLITE_PATH="${DATABASE_URL#sqlite:}"
      ;;
    postgresql://*|postgres://*)
      local scheme host port rest
      read -r scheme host port PG_DB PG_USER PG_PASSWORD_SET < <(url_parts "$DATABASE_URL")
      [ "$port" = bad ] && die "DATABASE_URL is invalid: bad port (postgresql://user:pass@host:port/db)"
      [ "$host" = - ] && host=localhost
      [ "$port" = - ] && port=5432
      [ "$PG_DB" = - ] && die "DATABASE_URL is invalid: it names no database (postgresql://user:pass@host:port/db)"
      [ "$PG_USER" = - ] && PG_USER="$(id -un)"
      PG_HOST="$host"
      PG_PORT="$port"
      if is_local_host "$host"; then PG_MODE=local; else PG_MODE=remote; fi
      ;;
    *) die "DATABASE_URL is invalid: use sqlite:<path> or postgresql://user:pass@host:port/db" ;;
  esac

  export DEBT_TRACKER_DATA_DIR="$DATA_DIR"
  export DEBT_TRACKER_LOG_FILE="$DT_SERVER_LOG"
}

describe_read_model() {  # never shows a password
  case "$PG_MODE" in
    none) echo "SQLite $SQLITE_PATH" ;;
    *) echo "PostgreSQL $PG_HOST:$PG_PORT/$PG_DB" ;;
  esac
}

# ---------------------------------------------------------------- dependencies
# Every Debian package the project uses; README.md says why each is there.
DEB_BUILD_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
  # libraries
  libboost-dev libboost-system-dev librocksdb-dev libsqlite3-dev libpq-dev
  nlohmann-json3-dev libsimdjson-dev libspdlog-dev libfmt-dev libssl-dev libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
)
DEB_TOOL_PACKAGES=(
  # services and tools used by manage.sh, the tests, benchmarks and scripts
  postgresql postgresql-client curl wrk chromium procps lsof iproute2 python3 git
  python3-yaml python3-jsonschema
)
DEB_PACKAGES=("${DEB_BUILD_PACKAGES[@]}" "${DEB_TOOL_PACKAGES[@]}")

missing_packages() {  # packages...
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

apt_install() {  # packages...
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "installing $* needs root (or sudo)"
    sudo="sudo"
  fi
  $sudo apt-get update -qq || die "apt-get update failed (no network to the Debian mirror?)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" \
    || die "apt-get install failed for: $*"
}

cmd_install_deps() {  # [--build-only]: only what building needs (the Dockerfile uses this)
  local wanted=("${DEB_PACKAGES[@]}")
  [ "${1:-}" = "--build-only" ] && wanted=("${DEB_BUILD_PACKAGES[@]}")
  local missing
  missing=$(missing_packages "${wanted[@]}" | tr '\n' ' ')
  if [ -n "${missing// }" ]; then
    say "installing Debian packages: $missing"
    # shellcheck disable=SC2086
    apt_install $missing
  else
    say "all ${#wanted[@]} Debian packages are installed"
  fi
  [ "${1:-}" = "--build-only" ] && return 0
  if ! command -v node >/dev/null 2>&1; then
    say "installing Node.js and npm (Debian) for the browser tests"
    apt_install nodejs npm
  fi
  # npm ci when node_modules is missing or older than the lock file (a package was added).
  if [ -f tests/browser/package-lock.json ] && { [ ! -f tests/browser/node_modules/.package-lock.json ] ||
      [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; }; then
    say "installing npm packages for the browser tests (tests/browser/node_modules)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in tests/browser"
  fi
}

ensure_deps() {  # [--build-only]
  if [ "${1:-}" = "--build-only" ]; then
    if [ -n "$(missing_packages "${DEB_BUILD_PACKAGES[@]}")" ]; then cmd_install_deps --build-only; fi
  elif [ -n "$(missing_packages "${DEB_PACKAGES[@]}")" ]; then
    cmd_install_deps
  fi
}

# ---------------------------------------------------------------- build
BUILD_TARGETS=()  # empty: everything

cmake_build() {  # dir, extra cmake args...
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null || die "cmake could not configure $dir"
  fi
  local targets=()
  [ ${#BUILD_TARGETS[@]} -gt 0 ] && targets=(--target "${BUILD_TARGETS[@]}")
  cmake --build "$dir" -j "$(nproc)" "${targets[@]}" || die "the build in $dir failed (see above)"
}

cmd_build() {  # [target...]: everything, or only the named targets (e.g. dt-server dt-eventstore)
  if [ "${MANAGE_SKIP_BUILD:-}" = 1 ]; then
    say "MANAGE_SKIP_BUILD=1: using the binaries in $BUILD_DIR as they are"
    return 0
  fi
  ensure_deps --build-only
  BUILD_TARGETS=("$@")
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  say "building (Release) in $BUILD_DIR${BUILD_TARGETS[*]:+: ${BUILD_TARGETS[*]}}"
  cmake_build "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDT_WERROR="$werror"
  BUILD_TARGETS=()
  say "built: $DT_SERVER_BIN, $ES_BIN"
}

ensure_binary() {  # path
  [ -x "$1" ] || cmd_build
  [ -x "$1" ] || die "$1 was not built (run ./manage.sh build)"
}

# ---------------------------------------------------------------- test
cmd_test() {
  ensure_deps
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
  ctest --test-dir "$BUILD_DIR" -j "$(nproc)" --output-on-failure --timeout 600 "$@"

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

# ---------------------------------------------------------------- processes
# A pid file counts only while its process is alive and is the program named (a pid reused
# by another program after a crash is not ours).
pid_alive() {  # pidfile, program name
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -z "${2:-}" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

port_owner() {  # port → "pid N (name)", or "" when nothing listens on it
  local port="$1" line pid name
  line=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)
  [ -n "$line" ] || return 0
  pid=$(grep -o 'pid=[0-9]*' <<<"$line" | head -n 1 | cut -d= -f2)
  name=$(grep -o '(("[^"]*"' <<<"$line" | head -n 1 | cut -d'"' -f2)
  if [ -n "$pid" ]; then echo "pid $pid ($name)"; else echo "another process (not visible to this user)"; fi
}

http_ok() {  # url: 2xx within 2 s
  curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

show_failure() {  # name, log files...: the last lines of each
  local f name="$1"; shift
  for f in "$@"; do
    [ -s "$f" ] || continue
    printf -- '--- last lines of %s\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
}

stop_process() {  # pidfile, program, label: SIGTERM, then wait up to 30 s
  local pid i
  if ! pid_alive "$1" "$2"; then
    rm -f "$1"
    say "$3 is not running"
    return 0
  fi
  pid=$(cat "$1")
  say "stopping $3 (pid $pid, SIGTERM: in-flight requests finish)"
  kill -TERM "$pid"
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$1"
      say "$3 stopped"
      return 0
    fi
    sleep 0.1
  done
  die "$3 (pid $pid) did not stop within 30 s; kill -9 $pid loses nothing acknowledged, then run this again"
}

# ---------------------------------------------------------------- event store (dt-eventstore)
start_eventstore() {
  resolve_config
  case "$ES_MODE" in
    file) say "EVENTSTORE_URL=$EVENTSTORE_URL: the engine runs inside dt-server; no event store server to start"; return 0 ;;
    remote) say "EVENTSTORE_URL=$EVENTSTORE_URL is on another machine; not starting one here"; return 0 ;;
  esac
  local url="http://127.0.0.1:$ES_PORT"
  if pid_alive "$ES_PID" dt-eventstore; then
    say "event store already running (pid $(cat "$ES_PID")) on port $ES_PORT"
    return 0
  fi
  local owner
  owner=$(port_owner "$ES_PORT")
  [ -z "$owner" ] || die "port $ES_PORT (EVENTSTORE_HTTP_PORT) is in use by $owner; stop it or choose another port"
  if [ -f "$ES_DATA/LOCK" ] && pid_alive "$ES_DATA/LOCK"; then
    die "the event store folder $ES_DATA is in use by pid $(cat "$ES_DATA/LOCK") ($(cat "/proc/$(cat "$ES_DATA/LOCK")/comm" 2>/dev/null))"
  fi
  ensure_binary "$ES_BIN"
  mkdir -p "$ES_DATA" "$RUN_DIR" "$LOG_DIR" "$ES_LOG_DIR"
  say "starting the event store: port $ES_PORT, data $ES_DATA, log $ES_LOG"
  EVENTSTORE_DB="$ES_DATA" EVENTSTORE_HTTP_PORT="$ES_PORT" EVENTSTORE_LOG="$ES_LOG_DIR" \
    EVENTSTORE_LOG_HTTP_REQUESTS="${EVENTSTORE_LOG_HTTP_REQUESTS:-true}" \
    nohup "$ES_BIN" >/dev/null 2>>"$ES_ERR" </dev/null &
  echo $! >"$ES_PID"
  local i
  for i in $(seq 1 300); do
    if http_ok "$url/health/live"; then
      say "event store ready: $url (web UI: sign in as admin / ${EVENTSTORE_DEFAULT_ADMIN_PASSWORD:+<EVENTSTORE_DEFAULT_ADMIN_PASSWORD>}${EVENTSTORE_DEFAULT_ADMIN_PASSWORD:-changeit})"
      return 0
    fi
    if ! pid_alive "$ES_PID" dt-eventstore; then
      rm -f "$ES_PID"
      show_failure dt-eventstore "$ES_ERR" "$ES_LOG"
      die "the event store exited at start (see above; logs: $ES_ERR, $ES_LOG)"
    fi
    sleep 0.1
  done
  die "the event store did not answer $url/health/live within 30 s (log: $ES_LOG)"
}

stop_eventstore() {
  stop_process "$ES_PID" dt-eventstore "the event store"
}

# ---------------------------------------------------------------- PostgreSQL (local, optional)
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found; run ./manage.sh install-deps"
}

as_pg() {  # PostgreSQL refuses to run as root: run it as the postgres account then
  # (from /, which that account can always enter).
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Where the cluster lives: ./data/postgres, unless the postgres account cannot reach that
# folder (a checkout under /root, say); then /var/lib/postgresql/debt-tracker/<hash>.
pg_cluster_dir() {
  if [ -f "$RUN_DIR/postgres.location" ]; then cat "$RUN_DIR/postgres.location"; return; fi
  local dir="$DATA_DIR/postgres"
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$DATA_DIR"
    if ! runuser -u postgres -- test -x "$DATA_DIR" 2>/dev/null; then
      dir="/var/lib/postgresql/debt-tracker/$(printf '%s' "$DATA_DIR" | sha1sum | cut -c1-12)"
    fi
  fi
  echo "$dir"
}

pg_running_here() {  # our cluster runs
  local dir
  dir=$(pg_cluster_dir)
  [ -f "$dir/PG_VERSION" ] && as_pg "$(pg_bin)/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

start_postgres() {
  resolve_config
  case "$PG_MODE" in
    none) say "DATABASE_URL is SQLite ($SQLITE_PATH): no PostgreSQL needed"; return 0 ;;
    remote) say "DATABASE_URL points at $PG_HOST, another machine: not starting PostgreSQL here"; return 0 ;;
  esac
  local bin dir
  bin=$(pg_bin)
  dir=$(pg_cluster_dir)
  if pg_running_here; then
    say "PostgreSQL already running (cluster $dir) on port $PG_PORT"
    return 0
  fi
  if "$bin/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    say "a PostgreSQL server already answers on $PG_HOST:$PG_PORT (not started by manage.sh): using it"
    return 0
  fi
  local owner
  owner=$(port_owner "$PG_PORT")
  [ -z "$owner" ] || die "port $PG_PORT (from DATABASE_URL) is in use by $owner, which is not PostgreSQL"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in $dir (superuser $PG_USER)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    [ "$dir" = "$DATA_DIR/postgres" ] || say "note: the postgres account cannot reach $DATA_DIR, so the cluster lives in $dir"
    local pwfile="" auth=(--auth-local=trust --auth-host=trust)
    if [ "$PG_PASSWORD_SET" = set ]; then
      pwfile=$(mktemp)
      python3 -c 'import sys,urllib.parse; print(urllib.parse.unquote(urllib.parse.urlsplit(sys.argv[1]).password))' \
        "$DATABASE_URL" >"$pwfile"
      chmod 644 "$pwfile"
      auth=(--auth-local=trust --auth-host=scram-sha-256 "--pwfile=$pwfile")
    fi
    if ! as_pg "$bin/initdb" -D "$dir" -U "$PG_USER" "${auth[@]}" -E UTF8 --no-locale >"$LOG_DIR/postgres-initdb.log" 2>&1; then
      [ -n "$pwfile" ] && rm -f "$pwfile"
      show_failure postgres "$LOG_DIR/postgres-initdb.log"
      die "initdb failed (log: $LOG_DIR/postgres-initdb.log)"
    fi
    [ -n "$pwfile" ] && rm -f "$pwfile"
    echo "$dir" >"$RUN_DIR/postgres.location"
  fi
  local listen="$PG_HOST"
  [ "$listen" = localhost ] && listen=127.0.0.1
  say "starting PostgreSQL: $listen:$PG_PORT, cluster $dir, log $dir/postgresql.log"
  if ! as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/postgresql.log" -w -t 60 \
      -o "-p $PG_PORT -k $dir -c listen_addresses=$listen" start >/dev/null; then
    show_failure postgres "$dir/postgresql.log"
    die "PostgreSQL did not start (log: $dir/postgresql.log)"
  fi
  if ! as_pg "$bin/psql" -h "$dir" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    as_pg "$bin/createdb" -h "$dir" -p "$PG_PORT" -U "$PG_USER" "$PG_DB" || die "could not create database $PG_DB"
    say "created database $PG_DB"
  fi
  say "PostgreSQL ready on $listen:$PG_PORT (database $PG_DB)"
}

stop_postgres() {
  resolve_config
  [ "$PG_MODE" = local ] || [ -f "$RUN_DIR/postgres.location" ] || return 0
  if pg_running_here; then
    local dir
    dir=$(pg_cluster_dir)
    say "stopping PostgreSQL (cluster $dir)"
    as_pg "$(pg_bin)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || die "PostgreSQL did not stop (cluster $dir)"
    say "PostgreSQL stopped"
  else
    say "PostgreSQL (started by manage.sh) is not running"
  fi
}

# ---------------------------------------------------------------- Debt Tracker API (dt-server)
cmd_start_server() {
  resolve_config
  if pid_alive "$DT_SERVER_PID" dt-server; then
    say "dt-server already running (pid $(cat "$DT_SERVER_PID")) on port $API_PORT"
    return 0
  fi
  local owner
  owner=$(port_owner "$API_PORT")
  [ -z "$owner" ] || die "port $API_PORT (PORT) is in use by $owner; stop it or choose another port"
  if [ "$ES_MODE" = local ] && ! http_ok "http://127.0.0.1:$ES_PORT/health/live"; then
    die "the event store is not running on port $ES_PORT: run ./manage.sh start-services (or ./manage.sh start)"
  fi
  ensure_binary "$DT_SERVER_BIN"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  say "starting dt-server on port $API_PORT (event store $EVENTSTORE_URL, read model $(describe_read_model), log $DT_SERVER_LOG)"
  nohup "$DT_SERVER_BIN" >/dev/null 2>>"$DT_SERVER_ERR" </dev/null &
  echo $! >"$DT_SERVER_PID"
  local i
  for i in $(seq 1 300); do
    if http_ok "http://127.0.0.1:$API_PORT/health"; then
      say "dt-server is up: http://localhost:$API_PORT (health: /health, readiness: /health/ready, metrics: /metrics)"
      return 0
    fi
    if ! pid_alive "$DT_SERVER_PID" dt-server; then
      rm -f "$DT_SERVER_PID"
      show_failure dt-server "$DT_SERVER_ERR" "$DT_SERVER_LOG"
      die "dt-server exited at start (see above; logs: $DT_SERVER_ERR, $DT_SERVER_LOG)"
    fi
    sleep 0.1
  done
  die "dt-server did not answer http://127.0.0.1:$API_PORT/health within 30 s (log: $DT_SERVER_LOG)"
}

cmd_stop_server() {
  stop_process "$DT_SERVER_PID" dt-server dt-server
}

cmd_restart_server() {
  cmd_stop_server
  cmd_start_server
}

# ---------------------------------------------------------------- services
cmd_start_services() {  # [eventstore|postgres]...: none = what the settings need
  resolve_config
  local svcs=("$@")
  if [ ${#svcs[@]} -eq 0 ]; then
    svcs=(eventstore)
    [ "$PG_MODE" = local ] && svcs+=(postgres)
  fi
  local svc
  for svc in "${svcs[@]}"; do
    case "$svc" in
      eventstore) start_eventstore ;;
      postgres)
        [ "$PG_MODE" = none ] && die "start-services postgres: DATABASE_URL is SQLite; set DATABASE_URL=postgresql://user:pass@localhost:5432/db first"
        start_postgres ;;
      *) die "unknown service '$svc' (known: eventstore, postgres)" ;;
    esac
  done
}

cmd_stop_services() {  # [eventstore|postgres]...: none = everything manage.sh started
  resolve_config
  if [ $# -eq 0 ]; then
    if pid_alive "$DT_SERVER_PID" dt-server; then
      say "dt-server uses the services: stopping it first"
    fi
    cmd_stop_server
    stop_eventstore
    stop_postgres
    return 0
  fi
  local svc
  for svc in "$@"; do
    case "$svc" in
      eventstore) stop_eventstore ;;
      postgres) stop_postgres ;;
      *) die "unknown service '$svc' (known: eventstore, postgres)" ;;
    esac
  done
}

# Event store + API with nothing but the defaults: dt-eventstore on 2113, dt-server on 8000
# talking to it over HTTP, the read model in data/projections.db.
cmd_start() {
  resolve_config
  ensure_deps
  cmd_build dt-server dt-eventstore  # only what runs; `build` makes the tests too
  cmd_start_services
  cmd_start_server
  say "running. Next: create an account with ./manage.sh user add <name>, then log in (README.md)"
}

cmd_stop() {
  cmd_stop_services
}

# ---------------------------------------------------------------- status
cmd_status() {
  resolve_config
  local bad=0 pid
  printf '%-14s %-22s %-8s %s\n' COMPONENT STATE HEALTH WHERE
  # event store
  case "$ES_MODE" in
    local)
      local es_state="stopped" es_health="-"
      if pid_alive "$ES_PID" dt-eventstore; then
        es_state="running (pid $(cat "$ES_PID"))"
        if http_ok "http://127.0.0.1:$ES_PORT/health/live"; then es_health=healthy; else es_health=UNHEALTHY; bad=1; fi
      elif [ -n "$(port_owner "$ES_PORT")" ]; then
        es_state="not ours: port in use"; es_health="?"
      fi
      printf '%-14s %-22s %-8s %s\n' eventstore "$es_state" "$es_health" \
        "http://localhost:$ES_PORT  data $ES_DATA  log $ES_LOG" ;;
    file) printf '%-14s %-22s %-8s %s\n' eventstore "inside dt-server" "-" "engine folder $ES_DATA" ;;
    remote)
      local h=UNREACHABLE
      http_ok "${EVENTSTORE_URL%/}/health/live" && h=healthy
      printf '%-14s %-22s %-8s %s\n' eventstore "remote" "$h" "$EVENTSTORE_URL" ;;
  esac
  # PostgreSQL
  case "$PG_MODE" in
    none) printf '%-14s %-22s %-8s %s\n' read-model "SQLite file" "-" "$SQLITE_PATH" ;;
    local|remote)
      local pg_state="-" pg_health=UNREACHABLE
      if [ "$PG_MODE" = local ]; then
        if pg_running_here; then pg_state="running (manage.sh)"; else pg_state="not started here"; fi
      else
        pg_state=remote
      fi
      "$(pg_bin)/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null && pg_health=healthy
      printf '%-14s %-22s %-8s %s\n' postgres "$pg_state" "$pg_health" "$PG_HOST:$PG_PORT/$PG_DB" ;;
  esac
  # API
  local api_state="stopped" api_health="-" ready=""
  if pid_alive "$DT_SERVER_PID" dt-server; then
    api_state="running (pid $(cat "$DT_SERVER_PID"))"
    if http_ok "http://127.0.0.1:$API_PORT/health"; then
      api_health=healthy
      local code
      code=$(curl -s -o "$RUN_DIR/ready.json" -w '%{http_code}' --max-time 5 \
        "http://127.0.0.1:$API_PORT/health/ready" 2>/dev/null || true)
      case "$code" in
        200) ready="ready: $(cat "$RUN_DIR/ready.json")" ;;
        503) ready="NOT READY: $(cat "$RUN_DIR/ready.json")"; bad=1 ;;
      esac
      rm -f "$RUN_DIR/ready.json"
    else
      api_health=UNHEALTHY; bad=1
    fi
  elif [ -n "$(port_owner "$API_PORT")" ]; then
    api_state="not ours: port in use"; api_health="?"
  fi
  printf '%-14s %-22s %-8s %s\n' dt-server "$api_state" "$api_health" \
    "http://localhost:$API_PORT  log $DT_SERVER_LOG"
  if [ -n "$ready" ]; then
    printf '%-14s %s\n' projections "$ready"
  fi
  return $bad
}

# ---------------------------------------------------------------- logs
cmd_logs() {  # [eventstore|server|postgres] [-f] [-n N]
  resolve_config
  local which="" follow="" lines=50
  while [ $# -gt 0 ]; do
    case "$1" in
      -f|--follow) follow=1 ;;
      -n) shift; [[ "${1:-}" =~ ^[0-9]+$ ]] || die "logs -n needs a number of lines"; lines="$1" ;;
      eventstore|server|dt-server|postgres) which="$1" ;;
      *) die "logs: unknown argument '$1' (logs [eventstore|server|postgres] [-f] [-n N])" ;;
    esac
    shift
  done
  local files=()
  case "$which" in
    eventstore) files=("$ES_LOG" "$ES_ERR") ;;
    server|dt-server) files=("$DT_SERVER_LOG" "$DT_SERVER_ERR") ;;
    postgres) files=("$(pg_cluster_dir)/postgresql.log") ;;
    "") files=("$ES_LOG" "$ES_ERR" "$DT_SERVER_LOG" "$DT_SERVER_ERR") ;;
  esac
  local present=() f
  for f in "${files[@]}"; do [ -s "$f" ] && present+=("$f"); done
  [ ${#present[@]} -gt 0 ] || die "no log yet (looked for: ${files[*]})"
  if [ -n "$follow" ]; then
    exec tail -n "$lines" -F "${present[@]}"
  fi
  tail -n "$lines" "${present[@]}"
}

# ---------------------------------------------------------------- resets
confirm() {  # question; --yes given → yes; no terminal → no
  [ "${ASSUME_YES:-}" = 1 ] && return 0
  if [ ! -t 0 ]; then
    die "$1 — this needs a confirmation: run it again with --yes"
  fi
  local answer
  read -r -p "$1 [y/N] " answer
  [[ "$answer" =~ ^[Yy]([Ee][Ss])?$ ]]
}

# Drops the read model (every table of src/readmodel/sql_schema.h, or the SQLite file) so
# that the next start or rebuild builds it from the first event.
drop_read_model() {
  resolve_config
  case "$PG_MODE" in
    none)
      # A rebuilt read model is "$SQLITE_PATH.g<N>" with "$SQLITE_PATH" a link to it.
      rm -f "$SQLITE_PATH" "$SQLITE_PATH-wal" "$SQLITE_PATH-shm" "$SQLITE_PATH.projector.lock" \
        "$SQLITE_PATH".g[0-9]*
      say "removed the SQLite read model $SQLITE_PATH"
      ;;
    *)
      command -v psql >/dev/null || die "psql not found; run ./manage.sh install-deps"
      local t sql="" tables=(balances contacts transactions settings events projection_state schema_version)
      for t in "${tables[@]}"; do sql+="DROP TABLE IF EXISTS ${t}_rebuild CASCADE; DROP TABLE IF EXISTS $t CASCADE; "; done
      psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "$sql" >/dev/null 2>"$LOG_DIR/reset-db.log" \
        || { show_failure psql "$LOG_DIR/reset-db.log"; die "could not drop the read model tables in PostgreSQL at $PG_HOST:$PG_PORT/$PG_DB"; }
      say "dropped the read model tables in PostgreSQL at $PG_HOST:$PG_PORT/$PG_DB"
      ;;
  esac
}

cmd_reset_eventstore() {  # [--yes]
  resolve_config
  [ "${1:-}" = "--yes" ] && ASSUME_YES=1
  [ "$ES_MODE" = remote ] && die "EVENTSTORE_URL=$EVENTSTORE_URL is another machine's event store: manage.sh resets only its own"
  confirm "This deletes every event in $ES_DATA (and the read model derived from them). Continue?" \
    || { say "nothing changed"; return 0; }
  local server_was_running=""
  pid_alive "$DT_SERVER_PID" dt-server && server_was_running=1
  cmd_stop_server
  stop_eventstore
  rm -rf "$ES_DATA"
  say "removed the event store data $ES_DATA"
  mkdir -p "$LOG_DIR"
  # The read model described the removed events: reset it as well.
  if [ "$PG_MODE" = local ] && ! "$(pg_bin)/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    start_postgres
  fi
  drop_read_model
  start_eventstore
  if [ -n "$server_was_running" ]; then
    cmd_start_server
  fi
  say "the event store is empty and running; accounts are events too: create them again (./manage.sh user add <name>)"
}

cmd_reset_db() {
  resolve_config
  local server_was_running=""
  pid_alive "$DT_SERVER_PID" dt-server && server_was_running=1
  cmd_stop_server
  if [ "$PG_MODE" = local ] && ! "$(pg_bin)/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    start_postgres
  fi
  drop_read_model
  [ "$ES_MODE" = local ] && start_eventstore
  rebuild_now
  if [ -n "$server_was_running" ]; then cmd_start_server; fi
}

rebuild_now() {
  ensure_binary "$DT_SERVER_BIN"
  say "rebuilding the read model from every event (progress below)"
  "$DT_SERVER_BIN" rebuild-projections || die "the rebuild failed (see above)"
}

cmd_rebuild_projections() {
  resolve_config
  local server_was_running=""
  if pid_alive "$DT_SERVER_PID" dt-server; then
    server_was_running=1
    say "dt-server is running and holds the projector; stopping it for the rebuild"
    say "(no downtime alternative: POST /api/admin/projections/rebuild with a user's token; an account in DEBT_TRACKER_ADMIN_USERS when that is set)"
    cmd_stop_server
  fi
  [ "$ES_MODE" = local ] && start_eventstore
  [ "$PG_MODE" = local ] && start_postgres
  rebuild_now
  if [ -n "$server_was_running" ]; then cmd_start_server; fi
}

# ---------------------------------------------------------------- accounts
cmd_user() {  # add|passwd <name> [--password P]: password from stdin when not given
  resolve_config
  [ $# -ge 2 ] || die "usage: ./manage.sh user add|passwd <name> [--password <password>] (password from stdin otherwise)"
  case "$1" in add|passwd) ;; *) die "unknown user command '$1' (add, passwd)" ;; esac
  if [ "$ES_MODE" = local ] && ! http_ok "http://127.0.0.1:$ES_PORT/health/live"; then
    start_eventstore
  fi
  if [ "$ES_MODE" = file ] && pid_alive "$DT_SERVER_PID" dt-server; then
    die "EVENTSTORE_URL=file:…: dt-server holds the event store folder; stop it first (./manage.sh stop-server)"
  fi
  ensure_binary "$DT_SERVER_BIN"
  "$DT_SERVER_BIN" user "$@"
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

# ---------------------------------------------------------------- help
cmd_help() {
  cat <<'EOF'
Usage: ./manage.sh <command> [args]

Getting started
  start          install missing packages, build, then start the event store (port 2113)
                 and the Debt Tracker API (port 8000) with data under ./data
  stop           stop everything manage.sh started (same as stop-services)
  user add <name> [--password P]
                 create an account (password from stdin when --password is not given);
                 `user passwd <name>` changes a password
  status         what runs, where, and whether it is healthy (exit 1 when something is not)
  logs [eventstore|server|postgres] [-f] [-n N]
                 the last lines of the logs in ./data/logs (-f: follow)

Services
  start-services [eventstore|postgres]
                 start in the background what the settings need (no argument), or the named
                 service: the event store, or a local PostgreSQL (DATABASE_URL on this machine)
                 in ./data/postgres
  stop-services [eventstore|postgres]
                 stop the named service, or (no argument) dt-server and every service
  start-server   start the Debt Tracker API (dt-server) in the background
  stop-server    stop it (SIGTERM: in-flight requests finish)
  restart-server stop, then start it

Data
  reset-eventstore [--yes]
                 stop, delete every event (and the read model derived from them), start
                 fresh; asks first unless --yes
  reset-db       drop the read model and rebuild it from all events
  rebuild-projections
                 rebuild the read model from all events (progress, events/s, ETA)

Development
  install-deps [--build-only]
                 install every Debian package (and the npm packages of the tests)
  build [target...]
                 build everything (Release) into ./build, or only the named targets
  test [ctest args]
                 build, then run the whole test suite: unit, integration and end to end
                 (with a throwaway PostgreSQL), the sanitizer build of the engine, fuzz runs
  bench [name [args]]
                 run the benchmark programs of bench/ (all, or one with its arguments, e.g.
                 `bench store_bench --quick`); figures: docs/BENCHMARKS.md
  help           this text

Settings: environment variables or ./.env (documented in .env.example).
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
    start-services) cmd_start_services "$@" ;;
    stop-services) cmd_stop_services "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    reset-eventstore) cmd_reset_eventstore "$@" ;;
    reset-db) cmd_reset_db "$@" ;;
    rebuild-projections) cmd_rebuild_projections "$@" ;;
    user) cmd_user "$@" ;;
    bench) cmd_bench "$@" ;;
    help|-h|--help) cmd_help ;;
    *) cmd_help >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
