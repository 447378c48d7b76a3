#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, from Debian's postgresql package.
#   scripts/test-postgres.sh start   prints `export DT_TEST_PG_URL=...` (eval it)
#   scripts/test-postgres.sh stop    stops it and removes its folder
# The server listens on 127.0.0.1 only, on a free port, with a superuser `dt` (trust auth:
# it holds nothing but test data and lives only as long as the test run).
set -euo pipefail

STATE_FILE="${DT_TEST_PG_STATE:-/tmp/dt-test-postgres.state}"

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "error: PostgreSQL server binaries not found; run ./manage.sh install-deps" >&2
  exit 1
}

as_pg() {  # PostgreSQL refuses to run as root; use its own account then.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  if [ -f "$STATE_FILE" ]; then
    # shellcheck disable=SC1090
    . "$STATE_FILE"
    if as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
      echo "export DT_TEST_PG_URL=$DT_TEST_PG_URL"
      return
    fi
  fi
  local bin dir port
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/dt-test-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  port=$(free_port)
  as_pg "$bin/initdb" -D "$dir/data" -U dt --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U dt dt_test
  local url="postgresql://dt@127.0.0.1:$port/dt_test"
  printf 'PGDATA_DIR=%s\nDT_TEST_PG_URL=%s\nPG_DIR=%s\n' "$dir/data" "$url" "$dir" >"$STATE_FILE"
  echo "export DT_TEST_PG_URL=$url"
}

stop() {
  [ -f "$STATE_FILE" ] || return 0
  # shellcheck disable=SC1090
  . "$STATE_FILE"
  as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR" "$STATE_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
