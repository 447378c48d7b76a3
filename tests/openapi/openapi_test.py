#!/usr/bin/env python3
"""docs/openapi.yaml checked against a running dt-server.

Starts dt-eventstore and dt-server (free ports, temp folders, the default deployment: the
API talks to the event store over HTTP, the read model in SQLite), then walks through every
operation of the description - successes and the documented errors - and checks for each
answer that its status is documented for that operation and that its JSON body matches the
documented schema (jsonschema, draft 2020-12). Also: every operation of the description was
called, every route in the server's source (Route(Verb::..., "...")) is described, and a
WebSocket message matches WsMessage.

Environment: DT_EVENTSTORE_BIN, DT_SERVER_BIN, DT_SOURCE_DIR (set by ctest).
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, datetime

import jsonschema
import yaml

SRC = os.environ["DT_SOURCE_DIR"]
SPEC = yaml.safe_load(open(os.path.join(SRC, "docs", "openapi.yaml")))
METHODS = ("get", "post", "put", "delete")

failures = []
called = set()  # (path template, method)


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


# ---------------------------------------------------------------- schemas

def resolve(node):
    """The schema with every local $ref replaced by its target (the spec has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = SPEC
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(v):
    if not isinstance(v, str):
        return True
    return str(uuid.UUID(v)) == v.lower()


@FORMATS.checks("date", raises=ValueError)
def _date(v):
    if not isinstance(v, str):
        return True
    date.fromisoformat(v)
    return len(v) == 10


@FORMATS.checks("date-time", raises=ValueError)
def _datetime(v):
    if not isinstance(v, str):
        return True
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", v):
        raise ValueError("not RFC 3339: " + v)
    datetime.fromisoformat(v.replace("Z", "+00:00")[:26] if "." in v else v.replace("Z", "+00:00"))
    return True


def check_schema(schema, value, where):
    validator = jsonschema.Draft202012Validator(resolve(schema), format_checker=FORMATS)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    for e in errors[:3]:
        fail(f"{where}: {e.message} at {list(e.absolute_path)}")
    return not errors


def operation(template, method):
    item = SPEC["paths"].get(template)
    if not item or method not in item:
        return None
    return item[method]


def response_spec(template, method, status):
    op = operation(template, method)
    r = op["responses"].get(str(status)) if op else None
    return resolve(r) if r else None


# ---------------------------------------------------------------- HTTP

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None


def http(base, method, path, body=None, headers=None, token=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method.upper())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return Answer(res.status, res.headers, res.read().decode())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read().decode())


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, template, status, params=None, query="", **kw):
        """Calls the operation and checks the answer against the description."""
        path = template
        for k, v in (params or {}).items():
            path = path.replace("{" + k + "}", v)
        a = http(self.base, method, path + query, **kw)
        where = f"{method.upper()} {template} -> {a.status}"
        called.add((template, method))
        if a.status != status:
            fail(f"{method.upper()} {path}{query}: expected {status}, got {a.status}: {a.raw[:300]}")
            return a
        spec = response_spec(template, method, a.status)
        if spec is None:
            fail(f"{where}: status not documented")
            return a
        content = spec.get("content", {})
        ctype = a.headers.get("Content-Type", "")
        if "application/json" in content:
            if "application/json" not in ctype:
                fail(f"{where}: Content-Type {ctype}, documented application/json")
            elif a.json is None and a.raw:
                fail(f"{where}: body is not JSON: {a.raw[:200]}")
            else:
                check_schema(content["application/json"]["schema"], a.json, where)
        elif "text/plain" in content:
            if "text/plain" not in ctype:
                fail(f"{where}: Content-Type {ctype}, documented text/plain")
            check_schema(content["text/plain"]["schema"], a.raw, where)
        return a


# ---------------------------------------------------------------- processes

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


def ws_connect(port, target):
    """A minimal WebSocket client handshake; returns (socket, status line)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status_line = head.split(b"\r\n", 1)[0].decode()
    return s, status_line, head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""


def ws_read_text(s, pending, seconds=10):
    """Reads frames until a text frame; answers pings. Server frames are unmasked."""
    buf = pending
    s.settimeout(seconds)

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("websocket closed")
            buf += chunk

    while True:
        need(2)
        opcode = buf[0] & 0x0F
        length = buf[1] & 0x7F
        off = 2
        if length == 126:
            need(4)
            length = int.from_bytes(buf[2:4], "big")
            off = 4
        elif length == 127:
            need(10)
            length = int.from_bytes(buf[2:10], "big")
            off = 10
        need(off + length)
        payload = buf[off:off + length]
        buf = buf[off + length:]
        if opcode == 1:
            return payload.decode(), buf
        if opcode == 9:  # ping: answer with a masked pong
            mask = os.urandom(4)
            s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask +
                      bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        if opcode == 8:
            raise EOFError("websocket closed by the server")


def main():
    es_bin = os.environ["DT_EVENTSTORE_BIN"]
    server_bin = os.environ["DT_SERVER_BIN"]
    tmp = tempfile.mkdtemp(prefix="dt-openapi-")
    procs = []
    try:
        es_port, api_port = free_port(), free_port()
        es = subprocess.Popen([es_bin, "--db", tmp + "/eventstore", "--http-port", str(es_port),
                               "--segment-size", str(8 << 20)],
                              stdout=open(tmp + "/es.log", "w"), stderr=subprocess.STDOUT)
        procs.append(es)
        if not wait_http(f"http://127.0.0.1:{es_port}/health/live"):
            raise RuntimeError("dt-eventstore did not start: " + open(tmp + "/es.log").read())
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": str(api_port),
            "DEBT_TRACKER_BIND": "127.0.0.1",
            "EVENTSTORE_URL": f"http://127.0.0.1:{es_port}",
            "DATABASE_URL": f"sqlite:{tmp}/projections.db",
            "DEBT_TRACKER_DATA_DIR": tmp,
            "DEBT_TRACKER_LOG_FILE": "off",
            "JWT_SECRET": "openapi-test-secret-0123456789",
            "DEBT_TRACKER_BOOTSTRAP_USER": "alice:pw-alice,bob:pw-bob",
            "DEBT_TRACKER_ADMIN_USERS": "alice",
            "DEBT_TRACKER_ALLOW_REGISTRATION": "true",
        }
        server = subprocess.Popen([server_bin], env=env, stdout=open(tmp + "/server.log", "w"),
                                  stderr=subprocess.STDOUT)
        procs.append(server)
        base = f"http://127.0.0.1:{api_port}"
        if not wait_http(base + "/health"):
            raise RuntimeError("dt-server did not start: " + open(tmp + "/server.log").read())
        run(Api(base), api_port)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failures:
            for name in ("es.log", "server.log"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    print(f"--- {name} (last lines)", file=sys.stderr)
                    print("".join(open(path).readlines()[-25:]), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def run(api, api_port):
    R = str(uuid.uuid4())  # an id nobody has
    c = api.call

    # operations
    c("get", "/health", 200)
    c("get", "/health/ready", 200)
    c("get", "/metrics", 200)

    # auth
    c("post", "/api/auth/login", 400, body={"username": "", "password": "x"})
    c("post", "/api/auth/login", 401, body={"username": "alice", "password": "wrong"})
    alice = c("post", "/api/auth/login", 200, body={"username": "alice", "password": "pw-alice"}).json["token"]
    bob = c("post", "/api/auth/login", 200, body={"username": "bob", "password": "pw-bob"}).json["token"]
    name = "carol-" + uuid.uuid4().hex[:8]
    c("post", "/api/auth/register", 201, body={"username": name, "password": "pw-carol"})
    c("post", "/api/auth/register", 409, body={"username": name, "password": "pw-carol"})
    c("post", "/api/auth/register", 400, body={"username": "", "password": "x"})

    # contacts
    c("get", "/api/contacts", 401)
    c("post", "/api/contacts", 400, token=alice, body={"notes": "no name"})
    key = {"Idempotency-Key": "openapi-" + uuid.uuid4().hex}
    first = c("post", "/api/contacts", 201, token=alice, headers=key,
              body={"name": "Dana", "phone": "+964 770 000 0000", "comment": "met at work"})
    again = c("post", "/api/contacts", 201, token=alice, headers=key,
              body={"name": "Dana", "phone": "+964 770 000 0000", "comment": "met at work"})
    if first.raw != again.raw:
        fail("an Idempotency-Key retry answered different bytes")
    c("post", "/api/contacts", 422, token=alice, headers=key, body={"name": "Someone else"})
    cid = first.json["id"]
    got = c("get", "/api/contacts/{id}", 200, {"id": cid}, token=alice)
    if got.headers.get("ETag") != '"0"':
        fail(f"GET contact ETag {got.headers.get('ETag')}, expected \"0\"")
    c("get", "/api/contacts/{id}", 404, {"id": R}, token=alice)
    c("get", "/api/contacts/{id}", 404, {"id": cid}, token=bob)  # another user's id
    c("get", "/api/contacts/{id}", 400, {"id": "not-a-uuid"}, token=alice)
    c("get", "/api/contacts/{id}", 401, {"id": cid})
    c("put", "/api/contacts/{id}", 200, {"id": cid}, token=alice, body={"notes": "owes me lunch"})
    c("put", "/api/contacts/{id}", 412, {"id": cid}, token=alice, headers={"If-Match": '"0"'},
      body={"notes": "stale"})
    c("put", "/api/contacts/{id}", 400, {"id": cid}, token=alice, body={"name": 5})
    c("put", "/api/contacts/{id}", 404, {"id": R}, token=alice, body={"notes": "x"})
    k2 = {"Idempotency-Key": "openapi-put-" + uuid.uuid4().hex}
    c("put", "/api/contacts/{id}", 200, {"id": cid}, token=alice, headers=k2, body={"notes": "a"})
    c("put", "/api/contacts/{id}", 422, {"id": cid}, token=alice, headers=k2, body={"notes": "b"})
    c("put", "/api/contacts/{id}", 401, {"id": cid}, body={"notes": "x"})
    hist = c("get", "/api/contacts/{id}/events", 200, {"id": cid}, token=alice)
    if hist.json is not None and len(hist.json) != 3:
        fail(f"contact history has {len(hist.json)} events, expected 3")
    c("get", "/api/contacts/{id}/events", 404, {"id": R}, token=alice)
    c("get", "/api/contacts/{id}/events", 401, {"id": cid})
    lst = c("get", "/api/contacts", 200, token=alice)
    if lst.json is not None and [x["id"] for x in lst.json] != [cid]:
        fail(f"contact list: {lst.raw}")

    # transactions
    tx_body = {"contact_id": cid, "type": "money", "direction": "lent", "amount": 25000,
               "currency": "IQD", "transaction_date": "2024-05-01", "description": "lunch"}
    c("post", "/api/transactions", 400, token=alice, body=dict(tx_body, amount=0))
    c("post", "/api/transactions", 404, token=alice, body=dict(tx_body, contact_id=R))
    c("post", "/api/transactions", 401, body=tx_body)
    ktx = {"Idempotency-Key": "openapi-tx-" + uuid.uuid4().hex}
    tx = c("post", "/api/transactions", 201, token=alice, headers=ktx, body=tx_body)
    c("post", "/api/transactions", 422, token=alice, headers=ktx, body=dict(tx_body, amount=1))
    tid = tx.json["id"]
    c("get", "/api/transactions", 200, token=alice)
    c("get", "/api/transactions", 401)
    c("get", "/api/transactions/{id}", 200, {"id": tid}, token=alice)
    c("get", "/api/transactions/{id}", 404, {"id": tid}, token=bob)
    c("get", "/api/transactions/{id}", 400, {"id": "1234"}, token=alice)
    c("get", "/api/transactions/{id}", 401, {"id": tid})
    c("put", "/api/transactions/{id}", 200, {"id": tid}, token=alice, body={"amount": 30000})
    c("put", "/api/transactions/{id}", 412, {"id": tid}, token=alice, headers={"If-Match": '"0"'},
      body={"amount": 1})
    c("put", "/api/transactions/{id}", 400, {"id": tid}, token=alice, body={"direction": "sideways"})
    c("put", "/api/transactions/{id}", 404, {"id": R}, token=alice, body={"amount": 1})
    c("put", "/api/transactions/{id}", 401, {"id": tid}, body={"amount": 1})
    kt2 = {"Idempotency-Key": "openapi-tput-" + uuid.uuid4().hex}
    c("put", "/api/transactions/{id}", 200, {"id": tid}, token=alice, headers=kt2, body={"description": "a"})
    c("put", "/api/transactions/{id}", 422, {"id": tid}, token=alice, headers=kt2, body={"description": "b"})
    c("get", "/api/transactions/{id}/events", 200, {"id": tid}, token=alice)
    c("get", "/api/transactions/{id}/events", 404, {"id": R}, token=alice)
    c("get", "/api/transactions/{id}/events", 401, {"id": tid})

    # balances, settings
    bal = c("get", "/api/balances", 200, token=alice)
    if bal.json is not None and bal.json["totals"] != {"IQD": 30000}:
        fail(f"balances: {bal.raw}")
    c("get", "/api/balances", 401)
    c("get", "/api/summary", 200, token=alice)
    c("get", "/api/summary", 401)
    c("get", "/api/settings", 200, token=alice)
    c("get", "/api/settings", 401)
    c("put", "/api/settings/{key}", 200, {"key": "dark_mode"}, token=alice, body={"value": "false"})
    c("put", "/api/settings/{key}", 400, {"key": "dark_mode"}, token=alice, body={"nothing": 1})
    c("put", "/api/settings/{key}", 401, {"key": "dark_mode"}, body={"value": "true"})
    s = c("get", "/api/settings", 200, token=alice)
    if s.json is not None and s.json.get("dark_mode") is not False:
        fail(f"settings after PUT dark_mode=false: {s.raw}")

    # real-time: a WebSocket sees the next change
    sock, status_line, pending = ws_connect(api_port, "/ws?token=" + alice)
    called.add(("/ws", "get"))
    if " 101 " not in status_line + " ":
        fail(f"WebSocket upgrade answered {status_line}")
    else:
        ws_contact = c("post", "/api/contacts", 201, token=alice, body={"name": "Eve"}).json["id"]
        try:
            msg = None
            for _ in range(10):  # skip any catch-up messages
                text, pending = ws_read_text(sock, pending)
                m = json.loads(text)
                check_schema(SPEC["components"]["schemas"]["WsMessage"], m, "WebSocket message")
                if m["data"].get("id") == ws_contact:
                    msg = m
                    break
            if not msg or msg["type"] != "contact_created" or msg["data"].get("name") != "Eve":
                fail(f"no contact_created message for the new contact: {msg}")
        except (EOFError, socket.timeout) as e:
            fail(f"WebSocket: {e}")
    sock.close()
    bad, status_line, _ = ws_connect(api_port, "/ws?token=not-a-token")
    bad.close()
    if " 401 " not in status_line + " ":
        fail(f"WebSocket with a bad token answered {status_line}, documented 401")
    c("get", "/ws", 426, query="?token=" + alice)

    # sync
    ev = c("get", "/api/sync/events", 200, token=alice)
    if "X-Sync-Checkpoint" not in ev.headers:
        fail("GET /api/sync/events without X-Sync-Checkpoint")
    c("get", "/api/sync/events", 200, token=alice, query="?since=" + ev.headers.get("X-Sync-Checkpoint", "0") + "&limit=10")
    c("get", "/api/sync/events", 200, token=alice, query="?since=2024-01-01T00:00:00Z")
    c("get", "/api/sync/events", 400, token=alice, query="?since=yesterday")
    c("get", "/api/sync/events", 401)
    c("get", "/api/sync/hash", 200, token=alice)
    c("get", "/api/sync/hash", 401)
    offline = {"id": str(uuid.uuid4()), "aggregate_type": "contact", "aggregate_id": str(uuid.uuid4()),
               "event_type": "CREATED", "event_data": {"name": "Offline Frank"},
               "timestamp": "2024-05-02T10:00:00Z"}
    r1 = c("post", "/api/sync/events", 200, token=alice, body=[offline])
    r2 = c("post", "/api/sync/events", 200, token=alice, body=[offline])
    if r1.json and r2.json and (r1.json["accepted"] != [offline["id"]] or r2.json["accepted"] != [offline["id"]]):
        fail(f"offline event not accepted (once, then again): {r1.raw} / {r2.raw}")
    r3 = c("post", "/api/sync/events", 200, token=alice,
           body={"events": [dict(offline, event_data={"name": "Someone else"})]})
    if r3.json and r3.json["conflicts"] != [offline["id"]]:
        fail(f"a different event under a used id is not a conflict: {r3.raw}")
    c("post", "/api/sync/events", 400, token=alice, body=[{"id": "x"}])
    c("post", "/api/sync/events", 401, body=[offline])

    # admin
    evs = c("get", "/api/admin/events", 200, token=alice, query="?limit=5")
    c("get", "/api/admin/events", 200, token=alice, query="?aggregate_type=contact&date_from=2000-01-01")
    c("get", "/api/admin/events", 400, token=alice, query="?limit=many")
    c("get", "/api/admin/events", 401)
    # undo of the newest event, within 5 s
    fresh = c("post", "/api/contacts", 201, token=alice, body={"name": "Undo Me"}).json["id"]
    newest = c("get", "/api/admin/events", 200, token=alice, query="?limit=1").json[0]
    if newest["aggregate_id"] != fresh:
        fail(f"the newest event is not the fresh contact's: {newest}")
    c("delete", "/api/admin/events/{event_id}", 200, {"event_id": newest["id"]}, token=alice)
    c("delete", "/api/admin/events/{event_id}", 404, {"event_id": R}, token=alice)
    c("delete", "/api/admin/events/{event_id}", 400, {"event_id": "nope"}, token=alice)
    c("delete", "/api/admin/events/{event_id}", 401, {"event_id": newest["id"]})
    busy = c("post", "/api/contacts", 201, token=alice, body={"name": "Changed Soon"}).json["id"]
    created_event = c("get", "/api/contacts/{id}/events", 200, {"id": busy}, token=alice).json[0]["id"]
    c("put", "/api/contacts/{id}", 200, {"id": busy}, token=alice, body={"notes": "changed"})
    c("delete", "/api/admin/events/{event_id}", 409, {"event_id": created_event}, token=alice)
    c("get", "/api/admin/projections/status", 200, token=alice)
    c("get", "/api/admin/projections/status", 401)
    c("post", "/api/admin/projections/rebuild", 401)
    c("post", "/api/admin/projections/rebuild", 403, token=bob)
    rb = c("post", "/api/admin/projections/rebuild", 202, token=alice)
    rb2 = http(api.base, "post", "/api/admin/projections/rebuild", token=alice)
    called.add(("/api/admin/projections/rebuild", "post"))
    if rb2.status not in (202, 409):
        fail(f"a second rebuild answered {rb2.status}")
    elif rb2.status == 409:
        check_schema(response_spec("/api/admin/projections/rebuild", "post", 409)["content"]["application/json"]["schema"],
                     rb2.json, "POST rebuild -> 409")
    for _ in range(100):
        st = http(api.base, "get", "/api/admin/projections/status", token=alice).json
        if st and not st["rebuilding"]:
            break
        time.sleep(0.1)
    # too old to undo: the contact's newest event, once it is more than 5 s old (by its own
    # timestamp: on a busy machine the run may have updated it only moments ago)
    newest_of_cid = c("get", "/api/contacts/{id}/events", 200, {"id": cid}, token=alice).json[-1]
    written = datetime.fromisoformat(newest_of_cid["timestamp"].replace("Z", "+00:00"))
    time.sleep(max(0.0, written.timestamp() + 5.5 - time.time()))
    old = newest_of_cid["id"]
    too_old = c("delete", "/api/admin/events/{event_id}", 400, {"event_id": old}, token=alice)
    if too_old.json and too_old.json.get("error") != "Event is too old to delete":
        fail(f"undo of an old event: {too_old.raw}")

    # deletes last
    c("delete", "/api/transactions/{id}", 412, {"id": tid}, token=alice, headers={"If-Match": '"0"'})
    c("delete", "/api/transactions/{id}", 200, {"id": tid}, token=alice, body={"comment": "paid back"})
    c("delete", "/api/transactions/{id}", 404, {"id": R}, token=alice)
    c("delete", "/api/transactions/{id}", 401, {"id": tid})
    c("delete", "/api/contacts/{id}", 412, {"id": cid}, token=alice, headers={"If-Match": '"0"'})
    c("delete", "/api/contacts/{id}", 200, {"id": cid}, token=alice, body={"comment": "moved away"})
    c("delete", "/api/contacts/{id}", 404, {"id": R}, token=alice)
    c("delete", "/api/contacts/{id}", 400, {"id": "zzz"}, token=alice)
    c("delete", "/api/contacts/{id}", 401, {"id": cid})
    c("get", "/api/contacts/{id}", 404, {"id": cid}, token=alice)  # deleted: gone from reads
    after = c("get", "/api/contacts/{id}/events", 200, {"id": cid}, token=alice)  # history stays
    if after.json and after.json[-1]["event_type"] != "ContactDeleted":
        fail(f"the deleted contact's history does not end with ContactDeleted: {after.raw[:300]}")

    # every described operation was called
    for template, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item and (template, method) not in called:
                fail(f"{method.upper()} {template} is described but the test never called it")

    # every route of the server is described
    routes = set()
    for folder in ("src/api",):
        for name in os.listdir(os.path.join(SRC, folder)):
            if name.endswith(".cc") and not name.endswith("_test.cc"):
                text = open(os.path.join(SRC, folder, name)).read()
                for verb, path in re.findall(r'Route\(\s*Verb::(\w+),\s*"([^"]+)"', text):
                    routes.add((path, verb.rstrip("_")))
    if not routes:
        fail("found no routes in src/api")
    for path, verb in sorted(routes):
        if operation(path, verb) is None:
            fail(f"the server serves {verb.upper()} {path}, which docs/openapi.yaml does not describe")
    print(f"checked {len(called)} operations and {len(routes)} routes")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure with its reason
        fail(f"{type(e).__name__}: {e}")
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("PASS: docs/openapi.yaml matches the running server")
