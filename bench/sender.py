#!/usr/bin/env python3
"""The outbox's enqueue rate and one sender's drain rate (issue 13,
Benchmark).

usage: python3 bench/sender.py [SECONDS] [--smoke]
       (scripts/bench runs it through bench/suite.py; scripts/test, through
       scripts/bench --smoke, runs the smoke version)

The real stack (lighttpd, 2 pool workers, MariaDB on this same box) and,
as a constant-time stand-in for Graph, Debian's nginx answering every
send with the Cloud API's send answer at once (bench/gateway.py's
start_nginx). SECONDS (default 10) sizes the campaign: 2,000 messages a
second of it, spread over WORKSPACES connected workspaces of a number
each, a recipient each (so the pair pacing never binds).

  enqueue   POST /api/v1/w/{slug}/outbox in batches of 1,000 (unique
            client_ids) from CLIENTS connections at once: messages
            accepted per second of wall time, and each batch's latency.
  drain     one `waba-connect --sender` ([sender] max_in_flight 256,
            per_number_mps 1000, Meta's highest) started on the queued
            campaign, until every row is sent: messages per second from
            its start; nginx's count of requests must be the campaign's
            (each sent once).
  drain-h2  the same campaign again over https and HTTP/2 (nginx with a
            certificate from the stack's test CA, [meta] ca_file), as
            Graph is reached.
RSS: the largest pool worker's VmRSS after the enqueue; the sender's
VmRSS and VmHWM (its peak) at the end of each drain, beside the number
of connections nginx saw it open. CPU per message of the sender and of
MariaDB, from /proc.

Targets: drain >= 2,000 sends/s, enqueue >= 20,000 messages/s. The last
line is one JSON object for scripts: SENDER {...}. Exit 1 when something
failed (a message not sent, one sent twice, a request refused), 3 when
everything worked but a target was missed. Without --smoke it rewrites
its section of bench/RESULTS.md (between the sender markers) with the
command and the figures. --smoke: 2 workspaces, 200 messages, http only,
no targets, no RESULTS.md: only "runs, no errors".
"""
import http.client
import json
import os
import queue
import shutil
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from gateway import connect, cpu_ticks, ensure_tools, start_nginx  # noqa: E402
from stack import Stack, wait_for  # noqa: E402
from suite import load, rss_kib, versions  # noqa: E402

TARGET_DRAIN = 2000    # sends/s, one sender process
TARGET_ENQUEUE = 20000  # messages/s through POST /outbox
PER_SECOND = 2000      # messages in the campaign per SECONDS
BATCH = 1000
WORKSPACES = 10
CLIENTS = 2            # enqueue connections: one per pool worker


def status_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Nginx:
    """The stand-in and its counters (stub_status); every poll is one
    request of its own, taken off the count."""

    def __init__(self, run, tls=None, ca=None):
        self.proc, self.port = start_nginx(run, conns=2048, tls=tls)
        self.ctx = ssl.create_default_context(cafile=ca) if ca else None
        self.polls = 0

    def counters(self):
        if self.ctx:
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            timeout=10, context=self.ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/nginx_status")
            lines = c.getresponse().read().decode().split("\n")
        finally:
            c.close()
        self.polls += 1
        accepts, _, requests = (int(x) for x in lines[2].split())
        # This poll is counted in both, and the earlier ones too.
        return accepts - self.polls, requests - self.polls

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def campaign(slugs, n, run_id, first=0):
    """{slug: [batch bodies]}: n messages over the workspaces, a recipient
    (from the first-th on) and a client_id each, in batches of at most
    BATCH."""
    per = n // len(slugs)
    out, k = {}, first
    for w, slug in enumerate(slugs):
        out[slug] = []
        for start in range(0, per, BATCH):
            msgs = []
            for i in range(start, min(per, start + BATCH)):
                msgs.append({"to": "49%010d" % k, "type": "text",
                             "text": {"body": "campaign %s message %d"
                                      % (run_id, i)},
                             "client_id": "%s-%d-%d" % (run_id, w, i)})
                k += 1
            out[slug].append(json.dumps({"messages": msgs},
                                        separators=(",", ":")).encode())
    return out


def enqueue(st, key, bodies):
    """POSTs every batch from CLIENTS keep-alive connections at once:
    (messages accepted, seconds, batch latencies, errors)."""
    work = queue.Queue()
    for slug, batches in bodies.items():
        for b in batches:
            work.put((slug, b))
    lock = threading.Lock()
    res = {"accepted": 0, "lat": [], "errors": []}

    def client():
        c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=120)
        try:
            while True:
                try:
                    slug, body = work.get_nowait()
                except queue.Empty:
                    return
                t = time.monotonic()
                c.request("POST", "/api/v1/w/%s/outbox" % slug, body=body,
                          headers={"Content-Type": "application/json",
                                   "Authorization": "Bearer " + key})
                r = c.getresponse()
                data = r.read()
                dt = time.monotonic() - t
                with lock:
                    if r.status != 202:
                        res["errors"].append("%d %s" % (r.status, data[:200]))
                    else:
                        res["accepted"] += len(json.loads(data)["accepted"])
                        res["lat"].append(dt)
        finally:
            c.close()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return res["accepted"], time.monotonic() - t0, sorted(res["lat"]), \
        res["errors"]


def sent_count(st, dbs, run_id):
    n = 0
    for db in dbs:
        n += int(st.sql("SELECT COUNT(*) FROM outbox WHERE state = 'sent' "
                        "AND client_id LIKE '%s-%%'" % run_id, db=db).strip())
    return n


def drain(st, nginx, dbs, n, run_id, name):
    """One sender on the queued campaign until all n are sent: its
    figures, and the problems found."""
    problems = []
    a0, r0 = nginx.counters()
    m0 = cpu_ticks([st.procs["mariadb"].pid])
    t0 = time.monotonic()
    p = st.start_sender(name)
    rss = hwm = 0
    first = last = None
    deadline = t0 + max(60, n / 200.0)
    while time.monotonic() < deadline:
        _, req = nginx.counters()
        now = time.monotonic()
        if first is None and req > r0:
            first = now
        rss = max(rss, status_kib(p.pid, "VmRSS"))
        hwm = max(hwm, status_kib(p.pid, "VmHWM"))
        if req - r0 >= n:
            last = now
            break
        if p.poll() is not None:
            problems.append("%s: the sender exited (%s)" % (name,
                                                             p.returncode))
            break
        time.sleep(0.05)
    # Sent at the stand-in; stored as sent once its outcome is settled.
    settled = None
    while time.monotonic() < deadline and last is not None:
        if sent_count(st, dbs, run_id) >= n:
            settled = time.monotonic()
            break
        time.sleep(0.05)
    cpu = cpu_ticks([p.pid])
    rss_end = status_kib(p.pid, "VmRSS")
    anon = status_kib(p.pid, "RssAnon")
    hwm = max(hwm, status_kib(p.pid, "VmHWM"))
    m1 = cpu_ticks([st.procs["mariadb"].pid])
    st.stop_sender(name)
    if p.returncode != 0:
        problems.append("%s: the sender exited %s on SIGTERM" % (name,
                                                                p.returncode))
    a1, r1 = nginx.counters()
    hz = os.sysconf("SC_CLK_TCK")
    if settled is None:
        problems.append("%s: %d of %d sent before the deadline" % (
            name, sent_count(st, dbs, run_id), n))
    if r1 - r0 != n:
        problems.append("%s: the stand-in got %d sends for %d messages" % (
            name, r1 - r0, n))
    return {"drain_s": (settled or time.monotonic()) - t0,
            "per_s": n / ((settled or time.monotonic()) - t0),
            "standin_per_s": n / (last - first) if last and first and
            last > first else 0.0,
            "rss_kib": rss_end, "rss_max_kib": rss, "hwm_kib": hwm,
            "anon_kib": anon,
            "connections": a1 - a0,
            "cpu_us": cpu * 1e6 / hz / max(n, 1),
            "db_us": (m1 - m0) * 1e6 / hz / max(n, 1)}, problems


def write_results(cmd, s):
    """Rewrites bench/RESULTS.md's sender section (appended if missing)."""
    path = os.path.join(HERE, "RESULTS.md")
    text = "# Benchmark results\n"
    if os.path.exists(path):
        text = open(path).read()
    a, b = text.find("<!-- sender -->"), text.find("<!-- /sender -->")
    v = versions()
    sec = ["<!-- sender -->", "## Latest sender run (bench/sender.py)", "",
           "Command: `%s` on %s UTC; load average at the end %s." % (
               cmd, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), load()),
           "", "Machine: %s, %s cores, %s, waba-connect %s." % (
               v["cpu"], v["cores"], v["mariadb"], v["waba-connect"]), "",
           "Campaign: %d messages over %d workspaces (a number each, a "
           "recipient per message), batches of %d from %d connections, 2 pool "
           "workers; one sender, max_in_flight 256, per_number_mps 1000." % (
               s["messages"], s["workspaces"], BATCH, CLIENTS), "",
           "| figure | value | target |", "|---|---:|---:|",
           "| enqueue, messages/s | %.0f | >= %d |" % (s["enqueue_per_s"],
                                                     TARGET_ENQUEUE),
           "| enqueue, batch of 1,000 p50 / max ms | %.0f / %.0f | |" % (
               s["enqueue_batch_p50_ms"], s["enqueue_batch_max_ms"]),
           "| drain (http/1.1), sends/s from the sender's start | %.0f "
           "| >= %d |" % (s["drain_per_s"], TARGET_DRAIN),
           "| drain (http/1.1), sends/s at the stand-in | %.0f | |"
           % s["drain_standin_per_s"],
           "| drain (https, HTTP/2), sends/s | %.0f | |" % s["drain_h2_per_s"],
           "| sender CPU per send, http/1.1 / h2 us | %.0f / %.0f | |" % (
               s["sender_cpu_us"], s["sender_h2_cpu_us"]),
           "| MariaDB CPU per send, http/1.1 us | %.0f | |" % s["db_cpu_us"],
           "| connections the sender opened, http/1.1 / h2 | %d / %d | |" % (
               s["connections"], s["connections_h2"]),
           "| worker RSS after the enqueue | %.1f MiB | |" % (
               s["worker_rss_kib"] / 1024.0),
           "| sender RSS at the end (anonymous) / peak, http/1.1 | %.1f "
           "(%.1f) / %.1f MiB | |" % (s["sender_rss_kib"] / 1024.0,
                             s["sender_anon_kib"] / 1024.0,
                             s["sender_hwm_kib"] / 1024.0),
           "| sender RSS at the end (anonymous) / peak, h2 | %.1f (%.1f) "
           "/ %.1f MiB | |" % (s["sender_h2_rss_kib"] / 1024.0,
                             s["sender_h2_anon_kib"] / 1024.0,
                             s["sender_h2_hwm_kib"] / 1024.0),
           "", "Targets: %s." % ("met" if s["ok"] else "MISSED"), "",
           "<!-- /sender -->"]
    if a != -1 and b != -1:
        text = text[:a] + "\n".join(sec) + text[b + len("<!-- /sender -->"):]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(sec) + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    smoke = "--smoke" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = int(args[0]) if args else (1 if smoke else 10)
    nws = 2 if smoke else int(os.environ.get("BENCH_SENDER_WORKSPACES",
                                             WORKSPACES))
    n = 200 if smoke else PER_SECOND * seconds
    n -= n % nws
    ensure_tools((("nginx-light", "/usr/sbin/nginx"),))
    run = os.path.join(ROOT, "run", "bench-sender")
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    st = Stack(run, workers=2)
    nginx = Nginx(run)
    h2 = None
    problems = []
    try:
        st.sandbox_port = nginx.port  # graph_base_url: the stand-in
        st.write_config(**{"server.log_level": "warn",
                           "server.max_requests": 0,
                           "sender.per_number_mps": 1000})
        st.start_mariadb()
        # The test stack's MariaDB is sized for tests (a 16 MiB redo log, a
        # 64 MiB buffer pool): a campaign's writes would wait on its
        # checkpoints. Debian's defaults, as a server would run.
        st.sql("SET GLOBAL innodb_log_file_size = %d; SET GLOBAL "
               "innodb_buffer_pool_size = %d" % (96 << 20, 128 << 20))
        st.admin("keys", "init")
        st.admin("migrate")
        slugs = ["snd%02d" % i for i in range(nws)]
        dbs = []
        for i, slug in enumerate(slugs):
            st.admin("workspace", "add", slug, "Sender bench %d" % i)
            dbs.append(connect(st, slug, "5000000%05d" % i, "6000000%05d" % i))
        key = st.admin("api-key", "add", "bench-sender", "--scopes",
                       "messages:send").stdout.strip()
        st.start_pool()
        st.start_lighttpd()
        # Warm-up: each worker prepares its statements for each workspace
        # (the rows are taken out again: the drain is the campaign's).
        enqueue(st, key, campaign(slugs, 2 * nws, "warm"))
        for db in dbs:
            st.sql("DELETE FROM outbox WHERE client_id LIKE 'warm-%'", db=db)
        print("sender benchmark: %d messages over %d workspaces; load "
              "average %s, %d CPUs" % (n, nws, load(), os.cpu_count()),
              flush=True)
        run_id = "c%d" % int(time.time())
        bodies = campaign(slugs, n, run_id)
        acc, secs, lat, errs = enqueue(st, key, bodies)
        problems += errs[:5]
        worker_rss = rss_kib(st.worker_pids())
        enq = acc / secs
        print("  enqueue   %8.0f messages/s  (%d in %.2f s, batch p50 %.0f "
              "ms, max %.0f ms)  worker RSS %.1f MiB" % (
                  enq, acc, secs, 1000 * lat[len(lat) // 2] if lat else 0,
                  1000 * lat[-1] if lat else 0, worker_rss / 1024.0),
              flush=True)
        d, p = drain(st, nginx, dbs, n, run_id, "sender")
        problems += p
        print("  drain     %8.0f sends/s     (%.2f s; %.0f/s at the stand-in) "
              "sender RSS %.1f MiB (%.1f anonymous), peak %.1f MiB, %d "
              "connections, cpu %.0f us, MariaDB %.0f us a send" % (
                  d["per_s"], d["drain_s"], d["standin_per_s"],
                  d["rss_kib"] / 1024.0, d["anon_kib"] / 1024.0,
                  d["hwm_kib"] / 1024.0,
                  d["connections"], d["cpu_us"], d["db_us"]), flush=True)
        d2 = None
        if not smoke:
            ca = st.test_ca()
            h2 = Nginx(os.path.join(run, "h2"), tls=st.tls_cert("nginx"),
                       ca=ca)
            st.sandbox_port, st.sandbox_scheme, st.sandbox_ca = \
                h2.port, "https", ca
            st.write_config()
            run2 = run_id + "h"
            # Recipients of their own: the first drain's are paced
            # (pair_interval_ms) for seconds after it.
            acc2, secs2, _, errs = enqueue(st, key,
                                           campaign(slugs, n, run2, n))
            problems += errs[:5]
            d2, p = drain(st, h2, dbs, n, run2, "sender2")
            problems += p
            print("  drain-h2  %8.0f sends/s     (%.2f s) sender RSS %.1f MiB "
                  "(%.1f anonymous), peak %.1f MiB, %d connections, cpu %.0f "
                  "us a send (enqueue again: %.0f messages/s)" % (
                      d2["per_s"], d2["drain_s"], d2["rss_kib"] / 1024.0,
                      d2["anon_kib"] / 1024.0,
                      d2["hwm_kib"] / 1024.0, d2["connections"], d2["cpu_us"],
                      acc2 / secs2), flush=True)
    finally:
        st.close()
        nginx.stop()
        if h2:
            h2.stop()
    ok = smoke or (d["per_s"] >= TARGET_DRAIN and enq >= TARGET_ENQUEUE)
    summary = {
        "seconds": seconds, "messages": n, "workspaces": nws,
        "enqueue_per_s": round(enq),
        "enqueue_batch_p50_ms": round(1000 * lat[len(lat) // 2]) if lat else 0,
        "enqueue_batch_max_ms": round(1000 * lat[-1]) if lat else 0,
        "drain_per_s": round(d["per_s"]),
        "drain_standin_per_s": round(d["standin_per_s"]),
        "drain_h2_per_s": round(d2["per_s"]) if d2 else None,
        "sender_cpu_us": round(d["cpu_us"]), "db_cpu_us": round(d["db_us"]),
        "sender_h2_cpu_us": round(d2["cpu_us"]) if d2 else None,
        "connections": d["connections"],
        "connections_h2": d2["connections"] if d2 else None,
        "worker_rss_kib": worker_rss, "sender_rss_kib": d["rss_kib"],
        "sender_hwm_kib": d["hwm_kib"], "sender_anon_kib": d["anon_kib"],
        "sender_h2_rss_kib": d2["rss_kib"] if d2 else None,
        "sender_h2_hwm_kib": d2["hwm_kib"] if d2 else None,
        "sender_h2_anon_kib": d2["anon_kib"] if d2 else None,
        "target_drain_per_s": TARGET_DRAIN,
        "target_enqueue_per_s": TARGET_ENQUEUE,
        "problems": problems, "ok": ok and not problems,
    }
    if not smoke:
        print("targets: drain >= %d/s: %s, enqueue >= %d/s: %s" % (
            TARGET_DRAIN, "ok" if d["per_s"] >= TARGET_DRAIN else "MISSED",
            TARGET_ENQUEUE, "ok" if enq >= TARGET_ENQUEUE else "MISSED"))
    for p in problems:
        print("  FAILED: " + p)
    if not smoke and not problems:
        write_results("python3 bench/sender.py %s" % " ".join(sys.argv[1:]),
                      summary)
    print("SENDER " + json.dumps(summary, separators=(",", ":")))
    if problems:
        return 1
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
