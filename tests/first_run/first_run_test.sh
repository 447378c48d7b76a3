#!/usr/bin/env bash
# First-run test: a new user's path from a fresh copy of the repository to a running
# system, following README.md with nothing but the defaults.
#
# In a temporary copy of the working tree (tracked and new files, no ./data, no ./build),
# using the binaries already built in DT_BUILD_DIR (MANAGE_SKIP_BUILD=1, so nothing is
# rebuilt), on free ports (PORT / EVENTSTORE_HTTP_PORT, so it runs beside other tests):
#   ./manage.sh start; wait for health; ./manage.sh user add; log in; create a contact
#   twice with the same Idempotency-Key (one contact, one event); see the stream through
#   the event store API and in the web UI; ./manage.sh status and logs; /metrics and
#   /health/ready; reset-eventstore (refused without --yes, then --yes); stop-services;
#   and nothing left running.
# Environment: DT_SOURCE_DIR, DT_BUILD_DIR (set by ctest).
set -euo pipefail

SRC="${DT_SOURCE_DIR:?DT_SOURCE_DIR must name the source tree}"
BUILD="${DT_BUILD_DIR:?DT_BUILD_DIR must name the build tree}"
for b in "$BUILD/src/bin/dt-server" "$BUILD/src/bin/dt-eventstore"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done

TMP=$(mktemp -d /tmp/dt-first-run.XXXXXX)
REPO="$TMP/debt-tracker"
STEP="setup"

fail() { echo "FAIL ($STEP): $*" >&2; exit 1; }
step() { STEP="$1"; echo "--- $1"; }

# Processes whose working folder is inside the copy: what the test started.
our_processes() {
  local p cwd
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    case "$cwd" in "$REPO"|"$REPO"/*) echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null)" ;; esac
  done
}

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -d "$REPO/data/logs" ]; then
    for f in "$REPO"/data/logs/*; do echo "--- $f (last lines)"; tail -n 30 "$f"; done
  fi
  if [ -x "$REPO/manage.sh" ]; then m stop-services >/dev/null 2>&1 || true; fi
  local line
  while read -r line; do
    [ -n "$line" ] || continue
    echo "killing leftover process: $line"
    kill -9 "${line%% *}" 2>/dev/null || true
  done < <(our_processes)
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
API_PORT=$(free_port)
ES_PORT=$(free_port)
while [ "$ES_PORT" = "$API_PORT" ]; do ES_PORT=$(free_port); done
API="http://127.0.0.1:$API_PORT"
ES="http://127.0.0.1:$ES_PORT"

# manage.sh with nothing but the defaults: a clean environment plus the two ports and the
# prebuilt binaries.
m() {
  (cd "$REPO" && env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
    PORT="$API_PORT" EVENTSTORE_HTTP_PORT="$ES_PORT" BUILD_DIR="$BUILD" MANAGE_SKIP_BUILD=1 \
    ./manage.sh "$@")
}

json() {  # json '<python expression over j>' < body
  python3 -c "import sys,json; j=json.load(sys.stdin); print($1)"
}

step "fresh copy of the working tree"
mkdir -p "$REPO"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$SRC" && xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' ) |
  (cd "$SRC" && tar --null -T - -cf -) | (cd "$REPO" && tar -xf -)
[ -x "$REPO/manage.sh" ] || fail "manage.sh missing from the copy"
[ ! -e "$REPO/data" ] || fail "the copy already has ./data"
[ ! -e "$REPO/.env" ] || rm -f "$REPO/.env"  # defaults only

step "./manage.sh start"
m start | tee "$TMP/start.out"
grep -q "dt-server is up" "$TMP/start.out" || fail "start did not report the API up"
[ -d "$REPO/data/eventstore" ] || fail "no event store data under ./data/eventstore"

step "wait for health"
for _ in $(seq 1 100); do
  curl -fsS "$API/health" >/dev/null 2>&1 && curl -fsS "$ES/health/live" >/dev/null 2>&1 && break
  sleep 0.1
done
[ "$(curl -fsS "$API/health")" = "OK" ] || fail "GET /health did not answer OK"
curl -fsS -o /dev/null -w '%{http_code}' "$ES/health/live" | grep -q 200 || fail "event store /health/live"

step "create an account: ./manage.sh user add alice (password from stdin)"
echo 'alice-password' | m user add alice | tee "$TMP/user.out"
grep -q "created user alice" "$TMP/user.out" || fail "user add did not say it created alice"

step "log in"
LOGIN=$(curl -fsS -X POST "$API/api/auth/login" -H 'Content-Type: application/json' \
  -d '{"username": "alice", "password": "alice-password"}')
TOKEN=$(json 'j["token"]' <<<"$LOGIN")
[ -n "$TOKEN" ] || fail "no token in $LOGIN"
BAD=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/api/auth/login" \
  -H 'Content-Type: application/json' -d '{"username": "alice", "password": "wrong"}')
[ "$BAD" = 401 ] || fail "a wrong password answered $BAD, not 401"

step "create a contact twice with the same Idempotency-Key"
create() {
  curl -sS -w '\n%{http_code}' -X POST "$API/api/contacts" -H "Authorization: Bearer $TOKEN" \
    -H "Idempotency-Key: test-key-123" -H 'Content-Type: application/json' \
    -d '{"name": "Test Contact"}'
}
FIRST=$(create)
SECOND=$(create)
[ "$(tail -n 1 <<<"$FIRST")" = 201 ] || fail "first create: $FIRST"
[ "$(tail -n 1 <<<"$SECOND")" = 201 ] || fail "second create: $SECOND"
[ "$(head -n 1 <<<"$FIRST")" = "$(head -n 1 <<<"$SECOND")" ] || fail "the retry answered differently: $FIRST / $SECOND"
ID=$(head -n 1 <<<"$FIRST" | json 'j["id"]')
echo "contact $ID"

LIST=$(curl -fsS "$API/api/contacts" -H "Authorization: Bearer $TOKEN")
[ "$(json 'len([c for c in j if c["name"] == "Test Contact"])' <<<"$LIST")" = 1 ] \
  || fail "expected one contact named Test Contact: $LIST"
EVENTS=$(curl -fsS "$API/api/contacts/$ID/events" -H "Authorization: Bearer $TOKEN")
[ "$(json 'len(j)' <<<"$EVENTS")" = 1 ] || fail "expected one event in the contact's history: $EVENTS"

step "the stream through the event store API"
FEED=$(curl -fsS -u admin:changeit -H 'Accept: application/vnd.eventstore.atom+json' \
  "$ES/streams/contact-$ID?embed=body")
[ "$(json 'len(j["entries"])' <<<"$FEED")" = 1 ] || fail "expected 1 event in contact-$ID: $FEED"
[ "$(json 'j["entries"][0]["eventType"]' <<<"$FEED")" = ContactCreated ] || fail "event type: $FEED"
NOAUTH=$(curl -s -o /dev/null -w '%{http_code}' "$ES/streams/contact-$ID")
[ "$NOAUTH" = 401 ] || fail "reading a stream without credentials answered $NOAUTH, not 401"

step "the stream in the web UI"
curl -fsS "$ES/" | grep -qi "<html" || fail "the web UI page did not load"
NODE_MODULES="$SRC/tests/browser/node_modules/playwright-core"
[ -d "$NODE_MODULES" ] || fail "playwright-core is not installed: run ./manage.sh install-deps"
node "$SRC/tests/browser/walkthrough_ui.mjs" "$ES" "contact-$ID" ContactCreated '"Test Contact"' \
  || fail "the web UI does not show the stream"

step "./manage.sh status"
m status | tee "$TMP/status.out" || fail "status exited non-zero with everything running"
grep -E '^eventstore .*running .*healthy' "$TMP/status.out" >/dev/null || fail "status: event store not healthy"
grep -E '^dt-server .*running .*healthy' "$TMP/status.out" >/dev/null || fail "status: dt-server not healthy"
grep -q "ready" "$TMP/status.out" || fail "status does not show readiness"

step "logs, metrics, readiness"
sleep 1.2  # log files are flushed every second
m logs server -n 200 >"$TMP/server.log"
grep -q "method=POST path=/api/contacts status=201" "$TMP/server.log" || fail "no request line in the server log"
grep -q "request_id=" "$TMP/server.log" || fail "no request id in the server log"
m logs eventstore -n 200 >"$TMP/es.log"
grep -q "path=/streams/contact-$ID" "$TMP/es.log" || fail "no request line in the event store log"
[ -s "$REPO/data/logs/dt-server.log" ] && [ -s "$REPO/data/logs/dt-eventstore.log" ] || fail "log files missing in ./data/logs"
curl -fsS "$API/metrics" | grep -q 'http_requests_total{method="POST",route="/api/contacts",code="201"} 2' \
  || fail "/metrics does not count the two creates"
curl -fsS "$API/health/ready" | grep -q '"ready":true' || fail "/health/ready is not ready"

step "reset-db and rebuild-projections: the read model comes back from the events"
m reset-db | tee "$TMP/reset-db.out"
grep -q "removed the SQLite read model" "$TMP/reset-db.out" || fail "reset-db did not say what it dropped"
LIST=$(curl -fsS "$API/api/contacts" -H "Authorization: Bearer $TOKEN")
[ "$(json '[c["id"] for c in j]' <<<"$LIST")" = "['$ID']" ] || fail "after reset-db: $LIST"
m rebuild-projections | tee "$TMP/rebuild.out"
grep -q "rebuilt the read model" "$TMP/rebuild.out" || fail "rebuild-projections did not report"
LIST=$(curl -fsS "$API/api/contacts" -H "Authorization: Bearer $TOKEN")
[ "$(json '[c["id"] for c in j]' <<<"$LIST")" = "['$ID']" ] || fail "after rebuild-projections: $LIST"

step "reset-eventstore without --yes is refused"
if m reset-eventstore </dev/null >"$TMP/refused.out" 2>&1; then fail "reset-eventstore ran without --yes"; fi
grep -q -- "--yes" "$TMP/refused.out" || fail "the refusal does not say how to confirm"
curl -fsS -u admin:changeit "$ES/streams/contact-$ID" >/dev/null || fail "the refusal deleted the stream"

step "reset-eventstore --yes"
m reset-eventstore --yes
CODE=$(curl -s -o /dev/null -w '%{http_code}' -u admin:changeit "$ES/streams/contact-$ID")
[ "$CODE" = 404 ] || fail "contact-$ID still there after the reset (HTTP $CODE)"
[ "$(curl -fsS "$API/health")" = OK ] || fail "dt-server not back after the reset"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/api/auth/login" \
  -H 'Content-Type: application/json' -d '{"username": "alice", "password": "alice-password"}')
[ "$CODE" = 401 ] || fail "alice can still log in after the reset (HTTP $CODE)"

step "stop-services"
m stop-services
for pidfile in "$REPO"/data/run/*.pid; do
  [ -e "$pidfile" ] || continue
  kill -0 "$(cat "$pidfile")" 2>/dev/null && fail "$(basename "$pidfile") names a live process"
done
LEFT=$(our_processes)
[ -z "$LEFT" ] || fail "processes left running: $LEFT"
for port in "$API_PORT" "$ES_PORT"; do
  [ -z "$(ss -Hltn "sport = :$port")" ] || fail "port $port still listening"
done
m status >/dev/null || true

echo "PASS: first run"
