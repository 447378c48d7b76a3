#!/usr/bin/env bash
# manage.sh's own behaviour, in a temporary copy: help, settings from .env (and the
# environment winning), one-line errors naming the bad setting, a busy port named with its
# pid and program, refusals that change nothing, and a local PostgreSQL started under
# ./data (or, when the postgres account cannot reach it, where it can) and stopped again.
# Environment: DT_SOURCE_DIR, DT_BUILD_DIR (set by ctest).
set -euo pipefail

SRC="${DT_SOURCE_DIR:?}"
BUILD="${DT_BUILD_DIR:?}"
TMP=$(mktemp -d /tmp/dt-manage-test.XXXXXX)
chmod 755 "$TMP"
LISTENER=""
fail() { echo "FAIL: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null || true
  for d in "$TMP"/*/; do
    [ -x "$d/manage.sh" ] || continue
    (cd "$d" && env -i PATH="$PATH" BUILD_DIR="$BUILD" MANAGE_SKIP_BUILD=1 ./manage.sh stop-services >/dev/null 2>&1) || true
    # A cluster placed outside the copy (the postgres account could not reach it).
    if [ -f "$d/data/run/postgres.location" ]; then
      loc=$(cat "$d/data/run/postgres.location")
      case "$loc" in /var/lib/postgresql/debt-tracker/*) rm -rf "$loc" ;; esac
    fi
  done
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

copy() {  # name: a copy of the tree's manage.sh and scripts in $TMP/name
  mkdir -p "$TMP/$1"
  cp "$SRC/manage.sh" "$TMP/$1/"
  cp -r "$SRC/scripts" "$TMP/$1/"
  echo "$TMP/$1"
}
DIR=$(copy plain)
m() {  # manage.sh in $DIR with a clean environment plus the arguments' VAR=value prefix
  local vars=()
  while [[ "${1:-}" == *=* ]]; do vars+=("$1"); shift; done
  (cd "$DIR" && env -i PATH="$PATH" HOME="${HOME:-/root}" BUILD_DIR="$BUILD" MANAGE_SKIP_BUILD=1 \
    "${vars[@]}" ./manage.sh "$@")
}
expect_fail() {  # pattern, manage.sh arguments...: must fail and print the pattern
  local pattern="$1"; shift
  local out
  if out=$(m "$@" 2>&1); then fail "manage.sh $* succeeded; expected an error matching: $pattern"; fi
  grep -qE -- "$pattern" <<<"$out" || fail "manage.sh $*: expected /$pattern/, got: $out"
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

echo "--- help lists every command"
HELP=$(m help)
for c in install-deps build start stop start-services stop-services start-server stop-server \
    restart-server status logs reset-eventstore reset-db rebuild-projections "user add" test bench help; do
  grep -q -- "  $c" <<<"$HELP" || fail "help does not list $c"
done
expect_fail "unknown command 'frobnicate'" frobnicate

echo "--- settings: .env, the environment wins, one line naming the bad setting"
printf '# comment\n\nPORT="18999" # the API port\nexport EVENTSTORE_HTTP_PORT=19999\n' >"$DIR/.env"
OUT=$(m status)
grep -q "http://localhost:18999" <<<"$OUT" || fail ".env PORT not used: $OUT"
grep -q "http://localhost:19999" <<<"$OUT" || fail ".env EVENTSTORE_HTTP_PORT not used: $OUT"
OUT=$(m PORT=18998 status)
grep -q "http://localhost:18998" <<<"$OUT" || fail "the environment does not win over .env: $OUT"
printf 'PORT=abc\n' >"$DIR/.env"
expect_fail "^error: PORT='abc' is invalid" status
printf 'PORT=8000\nthis is not a setting\n' >"$DIR/.env"
expect_fail "\.env line 2: expected NAME=value" status
printf 'PROT=8000\n' >"$DIR/.env"
OUT=$(m status 2>&1) || fail "an unknown name in .env stopped manage.sh: $OUT"
grep -q "line 1: PROT is not a setting" <<<"$OUT" || fail "no warning about PROT: $OUT"
rm -f "$DIR/.env"
expect_fail "EVENTSTORE_HTTP_PORT='x' is invalid" EVENTSTORE_HTTP_PORT=x status
expect_fail "its port 1234 differs from EVENTSTORE_HTTP_PORT=5678" \
  EVENTSTORE_URL=http://localhost:1234 EVENTSTORE_HTTP_PORT=5678 status
expect_fail "^error: DATABASE_URL is invalid" DATABASE_URL=mysql://x/y status
expect_fail "EVENTSTORE_URL='ftp://x' is invalid" EVENTSTORE_URL=ftp://x status

echo "--- a busy port is named with its pid and program"
PORT_BUSY=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$PORT_BUSY)); s.listen(); time.sleep(60)" &
LISTENER=$!
for _ in $(seq 1 50); do [ -n "$(ss -Hltn "sport = :$PORT_BUSY")" ] && break; sleep 0.1; done
expect_fail "port $PORT_BUSY \(EVENTSTORE_HTTP_PORT\) is in use by pid $LISTENER \(python3\)" \
  EVENTSTORE_HTTP_PORT=$PORT_BUSY start-services eventstore
expect_fail "port $PORT_BUSY \(PORT\) is in use by pid $LISTENER \(python3\)" PORT=$PORT_BUSY \
  EVENTSTORE_URL=file:data/es start-server
kill $LISTENER; LISTENER=""

echo "--- refusals change nothing"
ES_PORT=$(free_port)
expect_fail "the event store is not running on port $ES_PORT" EVENTSTORE_HTTP_PORT=$ES_PORT start-server
mkdir -p "$DIR/data/eventstore" && touch "$DIR/data/eventstore/marker"
expect_fail "run it again with --yes" EVENTSTORE_HTTP_PORT=$ES_PORT reset-eventstore </dev/null
[ -f "$DIR/data/eventstore/marker" ] || fail "a refused reset-eventstore deleted data"
expect_fail "no log yet" logs server
expect_fail "usage: ./manage.sh user add" user add
expect_fail "DATABASE_URL is SQLite" start-services postgres
OUT=$(m EVENTSTORE_HTTP_PORT=$ES_PORT stop-services) || fail "stop-services with nothing running failed"
grep -q "is not running" <<<"$OUT" || fail "stop-services does not say nothing ran: $OUT"

echo "--- start-services postgres: a local PostgreSQL under ./data"
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  for layout in reachable unreachable; do
    DIR=$(copy "pg-$layout")
    [ "$layout" = unreachable ] && chmod 700 "$DIR"
    PG_PORT=$(free_port)
    URL="postgresql://dt_user:s3cret@127.0.0.1:$PG_PORT/debt_db"
    OUT=$(m DATABASE_URL="$URL" start-services postgres) || fail "start-services postgres ($layout): $OUT"
    echo "$OUT"
    grep -q "PostgreSQL ready on 127.0.0.1:$PG_PORT" <<<"$OUT" || fail "no ready line: $OUT"
    if [ "$layout" = reachable ] || [ "$(id -u)" -ne 0 ]; then
      [ -f "$DIR/data/postgres/PG_VERSION" ] || fail "the cluster is not in ./data/postgres"
    else
      grep -q "cannot reach" <<<"$OUT" || fail "the cluster moved without saying so: $OUT"
      [ -f "$(cat "$DIR/data/run/postgres.location")/PG_VERSION" ] || fail "no cluster at the noted location"
    fi
    PGPASSWORD=s3cret psql "postgresql://dt_user@127.0.0.1:$PG_PORT/debt_db" -tAc "SELECT 41+1" | grep -q 42 \
      || fail "cannot connect with DATABASE_URL's user and password"
    if PGPASSWORD=wrong psql "postgresql://dt_user@127.0.0.1:$PG_PORT/debt_db" -tAc "SELECT 1" >/dev/null 2>&1; then
      fail "a wrong password was accepted"
    fi
    OUT=$(m DATABASE_URL="$URL" status) || true
    grep -E "^postgres .*running \(manage.sh\) +healthy" <<<"$OUT" >/dev/null || fail "status: $OUT"
    OUT=$(m DATABASE_URL="$URL" start-services postgres)
    grep -q "already running" <<<"$OUT" || fail "a second start did not see the first: $OUT"
    m DATABASE_URL="$URL" stop-services postgres
    [ -z "$(ss -Hltn "sport = :$PG_PORT")" ] || fail "PostgreSQL still listens on $PG_PORT"
  done
else
  echo "(PostgreSQL server binaries not installed: skipped)"
fi
echo "PASS: manage.sh"
