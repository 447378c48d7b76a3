#!/usr/bin/env python3
"""CPU time per request of dt-eventstore (per thread) and of the load tool, under the
single-event append load of run.py. Load-independent: CPU seconds from /proc/<pid>/task
(server) and wait4 (load tool), divided by the requests answered, so the figure holds
on a busy machine where throughput does not.

  bench/eventstore/cpu_per_request.py [--build DIR] [--seconds 5] [--conns 64]
                                      [--tool wrk|client] [--server eventstore|fixed]
                                      [--perf FILE]   # perf record -g of the server too
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (start, stop, HERE, ROOT)

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """{tid: (name, cpu seconds)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        switches = 0
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                switches = sum(int(v) for v in re.findall(r"ctxt_switches:\s+(\d+)", f.read()))
        except OSError:
            pass
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / TICK, switches, int(fields[11]) / TICK)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(bench.ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--tool", choices=["wrk", "client"], default="wrk")
    ap.add_argument("--server", choices=["eventstore", "fixed"], default="eventstore")
    ap.add_argument("--threads", type=int, default=2, help="load tool threads (client only)")
    ap.add_argument("--server-arg", action="append", default=[], help="extra dt-eventstore flag (repeatable)")
    ap.add_argument("--perf", help="also perf record -g the server into this file")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dt-cpu-")
    try:
        if a.server == "eventstore":
            srv, base = bench.start([os.path.join(a.build, "src/bin/dt-eventstore"), "--db", os.path.join(work, "es"),
                                     "--http-port", "0"] + a.server_arg)
        else:
            srv, base = bench.start([os.path.join(a.build, "bench/fixed_response_server"), "0", "2"])
        try:
            if a.tool == "wrk":
                script = "append_single.lua" if a.server == "eventstore" else "fixed.lua"
                cmd = ["wrk", "-t", "2", "-c", str(a.conns), "-d", f"{a.seconds}s", "--latency", "-s",
                       os.path.join(bench.HERE, script), base]
            else:
                cmd = [os.path.join(a.build, "bench/es_append_client"), "--url", base, "--connections",
                       str(a.conns), "--seconds", str(a.seconds), "--threads", str(a.threads)]
            perf = None
            before = thread_cpu(srv.pid)
            t0 = time.time()
            load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if a.perf:
                perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(srv.pid), "--",
                                         "sleep", str(max(1, a.seconds - 1))],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = load.stdout.read()
            _, status, ru = os.wait4(load.pid, 0)
            wall = time.time() - t0
            after = thread_cpu(srv.pid)
            if perf:
                perf.wait()
        finally:
            bench.stop(srv)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        total = re.search(r"(\d+) requests in", out)
        if not total or status != 0:
            sys.exit(f"load tool failed:\n{out}")
        n = int(total.group(1))
        print(out.strip())
        print(f"\n{n} requests, {float(m.group(1)):.0f}/s, wall {wall:.1f} s")
        tool_cpu = ru.ru_utime + ru.ru_stime
        print(f"load tool ({a.tool}): {tool_cpu * 1e6 / n:.2f} us CPU/request "
              f"(user {ru.ru_utime * 1e6 / n:.2f}, sys {ru.ru_stime * 1e6 / n:.2f})")
        srv_total = 0.0
        rows = []
        for tid, (name, cpu, sw, user) in after.items():
            _, cpu0, sw0, user0 = before.get(tid, (name, 0.0, 0, 0.0))
            d = cpu - cpu0
            srv_total += d
            if d > 0:
                rows.append((d, tid, name, sw - sw0, user - user0))
        for d, tid, name, sw, user in sorted(rows, reverse=True):
            print(f"  server thread {tid} {name}: {d * 1e6 / n:.2f} us/request (user {user * 1e6 / n:.2f}), "
                  f"{sw / n:.2f} context switches/request")
        print(f"server ({a.server}): {srv_total * 1e6 / n:.2f} us CPU/request")
        print(f"server + load tool: {(srv_total + tool_cpu) * 1e6 / n:.2f} us CPU/request")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
