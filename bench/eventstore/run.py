#!/usr/bin/env python3
"""Event store HTTP benchmark: dt-eventstore vs a PostgreSQL-backed event store vs a
minimal Beast server, in one run, on this machine.

  bench/eventstore/run.py [--build DIR] [--seconds 10] [--repeats 3] [--out FILE]

Every figure is the median of --repeats runs of --seconds each, at 1 / 16 / 64 connections.
Load tools: single-event appends to dt-eventstore and the fixed-response ceiling are
driven by es_append_client (append_client.cc: closed loop, one request in flight per
connection, the request bytes of append_single.lua, a fresh event id per request, exact
latencies) -- wrk builds each body in Lua, and its CPU, taken from the server on this
2-core machine, was twice the client's (`--load-tool wrk` measures with wrk instead).
Batch appends and $all reads use wrk (Lua scripts beside this file); PostgreSQL uses
pgbench. Prints a Markdown table (and writes it to --out when given)."""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request, base64, glob

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AUTH = "Basic " + base64.b64encode(b"admin:changeit").decode()


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def start(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + 30
    out = ""
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out += line
        m = re.search(r"ready: (http://[0-9.]+:\d+)/", line)
        if m:
            return p, m.group(1)
    p.kill()
    raise RuntimeError(f"{cmd[0]} did not start: {out}")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, script, conns, seconds, args=()):
    threads = min(2, conns)
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "--latency", "-s", script, url]
    if args:
        cmd += ["--"] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_load_output(url, script, out)


def client(binary, url, conns, seconds):
    """es_append_client: single-event appends (the same requests as append_single.lua)."""
    cmd = [binary, "--url", url, "--connections", str(conns), "--threads", str(min(2, conns)),
           "--seconds", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_load_output(url, "es_append_client", out)


def parse_load_output(url, script, out):
    """The figures of wrk's summary (es_append_client prints the same lines)."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    def ms(v):
        m = re.match(r"([\d.]+)(\w+)", v)
        return float(m.group(1)) * UNITS[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if non2xx:
        raise RuntimeError(f"{url} {script}: {non2xx.group(0)}: the benchmark measured failures")
    if errors:
        log(f"warning: {errors.group(0)}")
    return {"rps": rps, "p50": ms(lat["50"]), "p99": ms(lat["99"]), "bad": int(non2xx.group(1)) if non2xx else 0}


def median_runs(fn, repeats):
    runs = [fn() for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}, runs


def pg_run(url, conns, seconds, workdir):
    for f in glob.glob(os.path.join(workdir, "pgbench_log*")):
        os.remove(f)
    cmd = ["pgbench", "-n", "-f", os.path.join(HERE, "pg_append.sql"), "-c", str(conns), "-j", str(min(2, conns)),
           "-T", str(seconds), "-M", "prepared", "-l", "--log-prefix", os.path.join(workdir, "pgbench_log"), url]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {proc.stderr[-2000:]}")
    out = proc.stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    lats = []
    for f in glob.glob(os.path.join(workdir, "pgbench_log*")):
        with open(f) as fh:
            for line in fh:
                lats.append(int(line.split()[2]) / 1000.0)
    lats.sort()
    pct = lambda q: lats[min(len(lats) - 1, int(q * len(lats)))]
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench: {failed.group(1)} failed transactions")
    return {"rps": tps, "p50": pct(0.50), "p99": pct(0.99), "bad": int(failed.group(1)) if failed else 0}


def positions_of_all(base, pages=50):
    """Valid $all page starts spread over the log, found by following 'previous' links."""
    url = base + "/streams/%24all/00000000000000000000000000000000/forward/100"
    found = []
    while url and len(found) < 100000:
        req = urllib.request.Request(url, headers={"Authorization": AUTH, "Accept": "application/json"})
        feed = json.load(urllib.request.urlopen(req))
        if not feed["entries"]:
            break
        found.append(re.search(r"%24all/([0-9A-F]{32})/", url).group(1))
        url = next((l["uri"] for l in feed["links"] if l["relation"] == "previous"), None)
    step = max(1, len(found) // pages)
    return found[::step][:pages]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--conns", default="1,16,64")
    ap.add_argument("--out")
    ap.add_argument("--load-tool", choices=["client", "wrk"], default="client",
                    help="load tool of the single-event appends and the ceiling (default: es_append_client)")
    a = ap.parse_args()
    conns = [int(c) for c in a.conns.split(",")]
    es_bin = os.path.join(a.build, "src/bin/dt-eventstore")
    fixed_bin = os.path.join(a.build, "bench/fixed_response_server")
    client_bin = os.path.join(a.build, "bench/es_append_client")
    for b in (es_bin, fixed_bin) + ((client_bin,) if a.load_tool == "client" else ()):
        if not os.path.exists(b):
            sys.exit(f"missing {b}: build first (./manage.sh build)")
    work = tempfile.mkdtemp(prefix="dt-bench-", dir=os.path.join(ROOT, "build") if os.path.isdir(os.path.join(ROOT, "build")) else None)
    rows = []

    def row(system, workload, c, res):
        rows.append((system, workload, c, res))
        log(f"{system} | {workload} | {c} conns: {res['rps']:.0f}/s p50 {res['p50']:.2f} ms p99 {res['p99']:.2f} ms")

    try:
        # ---- dt-eventstore
        es, base = start([es_bin, "--db", os.path.join(work, "es"), "--http-port", "0"])
        try:
            for c in conns:
                if a.load_tool == "client":
                    res, _ = median_runs(lambda: client(client_bin, base, c, a.seconds), a.repeats)
                else:
                    res, _ = median_runs(lambda: wrk(base, os.path.join(HERE, "append_single.lua"), c, a.seconds), a.repeats)
                row("dt-eventstore", "append 1 event/request (events/s)", c, res)
            res, _ = median_runs(lambda: wrk(base, os.path.join(HERE, "append_batch.lua"), 16, a.seconds), a.repeats)
            res_events = dict(res, rps=res["rps"] * 100)
            row("dt-eventstore", "append 100 events/request (events/s)", 16, res_events)
            pos = positions_of_all(base)
            for c in (1, 16):
                res, _ = median_runs(lambda: wrk(base, os.path.join(HERE, "read_all.lua"), c, a.seconds, pos), a.repeats)
                row("dt-eventstore", "$all read, 100-event pages with bodies (pages/s)", c, res)
            stats = json.load(urllib.request.urlopen(base + "/stats"))["es"]["writer"]
            log(f"writer: {stats}")
            epf = stats["eventsWritten"] / max(1, stats["fsyncs"])
            log(f"events per fsync: {epf:.1f}, mean fsync {stats['fsyncTotalMicroseconds'] / max(1, stats['fsyncs']):.0f} us")
        finally:
            stop(es)

        # ---- PostgreSQL-backed store
        env = dict(os.environ, DT_TEST_PG_STATE=os.path.join(work, "pg.state"))
        out = subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "start"], env=env, capture_output=True, text=True, check=True).stdout
        pg_url = re.search(r"DT_TEST_PG_URL=(\S+)", out).group(1)
        try:
            subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", os.path.join(HERE, "pg_schema.sql"), pg_url],
                           check=True, capture_output=True)
            for c in conns:
                res, _ = median_runs(lambda: pg_run(pg_url, c, a.seconds, work), a.repeats)
                row("PostgreSQL 15 (plpgsql + advisory lock)", "append 1 event/transaction (events/s)", c, res)
        finally:
            subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "stop"], env=env, capture_output=True)

        # ---- the ceiling: a fixed response
        fx, fbase = start([fixed_bin, "0", "2"])
        try:
            for c in conns:
                if a.load_tool == "client":
                    res, _ = median_runs(lambda: client(client_bin, fbase, c, a.seconds), a.repeats)
                else:
                    res, _ = median_runs(lambda: wrk(fbase, os.path.join(HERE, "fixed.lua"), c, a.seconds), a.repeats)
                row("minimal Beast server (fixed 201)", "same request (requests/s)", c, res)
        finally:
            stop(fx)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = ["| system | workload | connections | throughput | p50 ms | p99 ms |", "|---|---|---:|---:|---:|---:|"]
    for system, workload, c, r in rows:
        lines.append(f"| {system} | {workload} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")
    es64 = next((r for s, w, c, r in rows if s == "dt-eventstore" and w.startswith("append 1") and c == 64), None)
    pg64 = next((r for s, w, c, r in rows if s.startswith("PostgreSQL") and c == 64), None)
    if es64 and pg64:
        lines.append("")
        lines.append(f"Ratio at 64 connections, single-event appends: dt-eventstore / PostgreSQL = {es64['rps'] / pg64['rps']:.1f}x")
    lines.append("")
    lines.append(f"Load tools: single-event appends and the ceiling {'es_append_client' if a.load_tool == 'client' else 'wrk (append_single.lua, fixed.lua)'}; "
                 "batch appends and $all reads wrk; PostgreSQL pgbench.")
    table = "\n".join(lines)
    print(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
