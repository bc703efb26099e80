"""Issue 15: GET /metrics through lighttpd and the real pool, read with
Prometheus's own parser (Debian's python3-prometheus-client): the
exposition parses, the counters move (requests by route and status, the
latency histogram, Graph calls, webhook deliveries), they are shared by
every worker of the pool (requests spread over the workers all count),
the gauges are there (bulkhead, breaker, workspaces, monitor passes),
and only the addresses of [metrics] allow get an answer."""
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import threading
import time

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (scripts/deps), when the tests
    # run on another Python than Debian's own (it is pure Python).
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from base import StackCase
from meta import PHONE, Sandbox, csrf, settings_path, sign_in, start_connect
from stack import binary, wait_for

PW = "metrics test password"
SLUG = "acme"
S = settings_path(SLUG)


def get(port, path, source="127.0.0.1", method="GET", body=None,
        headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20,
                                   source_address=(source, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


class Metrics(StackCase):
    workers = 3
    sandbox = True
    # Loopback's 127.0.0.1 only: 127.0.0.2, loopback too, is "another
    # host" for the allow list.
    config = {"metrics.allow": "127.0.0.1, ::1", "monitor.enabled": "true"}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("workspace", "add", "other", "Other Co")
        cls.st.admin("user", "add", SLUG, "alice@acme.example",
                     input=PW + "\n")

    def scrape(self):
        status, headers, text = get(self.port, "/metrics")
        self.assertEqual(status, 200, text[:500])
        self.assertIn("version=0.0.4", headers.get("Content-Type", ""))
        samples = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                samples[key] = s.value
        return samples

    @staticmethod
    def value(samples, name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    def test_requests_counted_across_workers(self):
        before = self.scrape()
        n = 30
        errors = []

        def hit():
            try:
                for _ in range(n // 6):
                    st, _, _ = get(self.port, "/login")
                    if st != 200:
                        errors.append(st)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=hit) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for _ in range(3):
            get(self.port, "/no/such/page")
        after = self.scrape()
        # Exactly n, whichever worker answered the scrape: the counters
        # are the pool's, not one process's.
        self.assertEqual(
            self.value(after, "waba_http_requests_total", method="GET", route="/login",
                       status="200") -
            self.value(before, "waba_http_requests_total", method="GET", route="/login",
                       status="200"), n)
        self.assertEqual(
            self.value(after, "waba_http_requests_total", method="",
                       route="unmatched", status="404") -
            self.value(before, "waba_http_requests_total", method="",
                       route="unmatched", status="404"), 3)
        # The histogram: count moved by n, +Inf equals count, buckets
        # never decrease.
        cnt = self.value(after, "waba_http_request_duration_seconds_count",
                         method="GET", route="/login")
        self.assertEqual(cnt - self.value(
            before, "waba_http_request_duration_seconds_count",
            method="GET", route="/login"), n)
        self.assertEqual(self.value(
            after, "waba_http_request_duration_seconds_bucket",
            method="GET", route="/login", le="+Inf"), cnt)
        last = 0
        for le in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                   "1", "2.5", "5", "10"):
            v = self.value(after, "waba_http_request_duration_seconds_bucket",
                           method="GET", route="/login", le=le)
            self.assertGreaterEqual(v, last, le)
            last = v
        self.assertGreater(self.value(
            after, "waba_http_request_duration_seconds_sum", method="GET", route="/login"),
            0)
        # No id, no slug in a label: route patterns only.
        for (name, labels) in after:
            for k, v in labels:
                if k == "route":
                    self.assertNotIn(SLUG, v)

    def test_webhook_deliveries(self):
        before = self.scrape()
        body = json.dumps({"object": "whatsapp_business_account",
                           "entry": []}).encode()
        sig = "sha256=" + hmac.new(self.st.app_secret.encode(), body,
                                   hashlib.sha256).hexdigest()
        st, _, _ = get(self.port, "/webhooks/meta", method="POST", body=body,
                       headers={"Content-Type": "application/json",
                                "X-Hub-Signature-256": sig})
        self.assertEqual(st, 200)
        st, _, _ = get(self.port, "/webhooks/meta", method="POST", body=body,
                       headers={"Content-Type": "application/json",
                                "X-Hub-Signature-256": "sha256=00"})
        self.assertEqual(st, 403)
        after = self.scrape()
        for outcome in ("accepted", "bad_signature"):
            self.assertEqual(
                self.value(after, "waba_webhook_deliveries_total",
                           outcome=outcome) -
                self.value(before, "waba_webhook_deliveries_total",
                           outcome=outcome), 1, outcome)

    def test_graph_calls_and_workspaces(self):
        before = self.scrape()
        b = sign_in(self.port, "alice@acme.example", PW)
        sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        r = b.get(sb.decide(start_connect(b, SLUG)))
        self.assertEqual(r.status, 303, r.text[:500])
        after = self.scrape()
        moved = {labels: v - before.get((name, labels), 0)
                 for (name, labels), v in after.items()
                 if name == "waba_graph_calls_total"}
        ok = sum(v for labels, v in moved.items()
                 if ("outcome", "ok") in labels)
        self.assertGreater(ok, 0, moved)
        endpoints = {dict(l)["endpoint"] for l, v in moved.items() if v}
        for e in endpoints:
            self.assertRegex(e, r"^[a-z_./{}]+$")
        # Every workspace is counted under one status.
        total = sum(v for (name, labels), v in after.items()
                    if name == "waba_workspaces")
        self.assertEqual(total, 2)
        self.assertEqual(self.value(after, "waba_meta_breaker_state"), 0)
        self.assertGreaterEqual(
            self.value(after, "waba_meta_bulkhead_capacity"), 1)
        self.assertEqual(self.value(after, "waba_meta_bulkhead_in_use"), 0)

    def test_monitor_pass_counted(self):
        # The supervisor's monitor child makes a pass when it starts.
        wait_for(lambda: self.value(self.scrape(),
                                    "waba_monitor_passes_total") >= 1,
                 25, "a monitor pass in /metrics")
        s = self.scrape()
        n = self.value(s, "waba_monitor_passes_total")
        # A real histogram: Prometheus's parser has its _count, _sum and
        # +Inf bucket, which agree with the passes counted.
        self.assertEqual(
            self.value(s, "waba_monitor_pass_duration_seconds_count"), n)
        self.assertEqual(self.value(
            s, "waba_monitor_pass_duration_seconds_bucket", le="+Inf"), n)
        self.assertGreater(
            self.value(s, "waba_monitor_pass_duration_seconds_sum"), 0)
        self.assertGreater(
            self.value(s, "waba_monitor_last_pass_timestamp_seconds"),
            time.time() - 600)
        self.assertNotIn(("waba_monitor_last_pass_seconds", ()), s)

    def test_other_addresses_get_404(self):
        st, headers, text = get(self.port, "/metrics", source="127.0.0.2")
        self.assertEqual(st, 404)
        self.assertNotIn("waba_http_requests_total", text)
        self.assertIn("text/html", headers.get("Content-Type", ""))

    def test_bad_allow_stops_start_up(self):
        with open(self.st.config_path) as f:
            text = f.read().replace("allow = 127.0.0.1, ::1",
                                    "allow = 127.0.0.1, localhost")
        path = self.st.path("bad-allow.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([binary("waba-connect-admin"), "--config", path,
                            "workspace", "list"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("[metrics] allow", r.stderr)
        self.assertIn('"localhost"', r.stderr)


class MetricsDefault(StackCase):
    """No [metrics] allow: loopback (127.0.0.0/8, ::1) is let in."""
    workers = 1

    def test_loopback_allowed_by_default(self):
        for src in ("127.0.0.1", "127.0.0.2"):
            st, _, text = get(self.port, "/metrics", source=src)
            self.assertEqual(st, 200, src)
            list(text_string_to_metric_families(text))


class MetricsSpawnedSender(StackCase):
    """Workers the web server spawns share their counters through a
    named segment of their config; `waba-connect --sender` run as its
    own service (etc/waba-connect-sender.service) maps the same one, so
    its sends, its Graph calls and the outbox's depth are in those
    workers' /metrics; so does `waba-connect-admin monitor --once`
    (etc/waba-connect-monitor.timer) with its passes."""
    workers = 2
    sandbox = True
    spawn = True
    config = {"sender.pair_interval_ms": 0}

    @classmethod
    def setUpStack(cls):
        from gateway import add_key, add_sender
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.st.admin("workspace", "add", "spawned", "Spawned")
        add_sender(cls.st, cls.sb, "spawned", "540000000001", "640000000001")
        cls.key = add_key(cls.st, "spawned", "messages:send")
        # A named segment outlives its processes: an earlier run's, at
        # this same config path, would hold its counts. None yet.
        cls.drop_segment()

    @classmethod
    def drop_segment(cls):
        try:
            os.unlink(cls.segment(cls.st.config_path, cls.st.pool_uid))
        except FileNotFoundError:
            pass

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.drop_segment()

    scrape = Metrics.scrape
    value = staticmethod(Metrics.value)

    def test_sender_counts_in_the_workers_metrics(self):
        before = self.value(self.scrape(), "waba_sends_total", outcome="sent")
        msgs = [{"to": "4917%08d" % i, "type": "text",
                 "text": {"body": "metrics %d" % i},
                 "client_id": "m-%d" % i} for i in range(5)]
        status, _, text = get(self.port, "/api/v1/w/spawned/outbox",
                              method="POST",
                              body=json.dumps({"messages": msgs}),
                              headers={"Authorization": "Bearer " + self.key,
                                       "Content-Type": "application/json"})
        self.assertEqual(status, 202, text[:300])
        calls = self.value(self.scrape(), "waba_graph_calls_total",
                           endpoint="messages", outcome="ok")
        self.st.start_sender("sender")
        try:
            wait_for(lambda: self.value(self.scrape(), "waba_sends_total",
                                        outcome="sent") - before >= 5, 30,
                     "the sender's sends in /metrics")
            # Its calls to Meta count as the workers' do: by endpoint
            # and outcome, one per attempt.
            self.assertEqual(self.value(
                self.scrape(), "waba_graph_calls_total", endpoint="messages",
                outcome="ok") - calls, 5)
            wait_for(lambda: ("waba_outbox_depth", ()) in self.scrape(), 30,
                     "the outbox depth in /metrics")
        finally:
            self.st.stop_sender("sender")

    def admin_as_pool(self, *args, config=None):
        """waba-connect-admin as the pool's user, as the timer's unit
        runs it (the workers' segment is named for their user)."""
        kw = {}
        if os.geteuid() == 0 and self.st.pool_uid != 0:
            kw = {"user": self.st.pool_uid, "group": self.st.pool_gid,
                  "extra_groups": []}
        return subprocess.run([binary("waba-connect-admin"), "--config",
                               config or self.st.config_path] + list(args),
                              capture_output=True, text=True, **kw)

    @staticmethod
    def segment(config, uid):
        """/dev/shm's name of the metrics segment of config and uid
        (metrics.c METRICS_NAME_FMT, shm.c shm_hash: FNV-1a)."""
        h = 2166136261
        for c in os.path.realpath(config).encode():
            h = ((h ^ c) * 16777619) & 0xffffffff
        return "/dev/shm/waba-connect-metrics-v2.%d.%08x" % (uid, h)

    def test_monitor_once_counts_in_the_workers_metrics(self):
        """No monitor has run: the passes and the histogram say 0 and
        the last pass's time is 0 (never); then a timer's `monitor
        --once` counts in these workers' /metrics."""
        s = self.scrape()
        self.assertEqual(self.value(s, "waba_monitor_passes_total"), 0)
        self.assertIn(("waba_monitor_passes_total", ()), s)
        self.assertEqual(
            s[("waba_monitor_last_pass_timestamp_seconds", ())], 0)
        self.assertEqual(
            s[("waba_monitor_pass_duration_seconds_count", ())], 0)
        self.assertNotIn(("waba_monitor_last_pass_seconds", ()), s)
        t0 = int(time.time())
        r = self.admin_as_pool("monitor", "--once")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("/metrics", r.stderr)
        s = self.scrape()
        self.assertEqual(s[("waba_monitor_passes_total", ())], 1)
        self.assertEqual(
            s[("waba_monitor_pass_duration_seconds_count", ())], 1)
        self.assertEqual(self.value(
            s, "waba_monitor_pass_duration_seconds_bucket", le="+Inf"), 1)
        self.assertGreater(
            s[("waba_monitor_pass_duration_seconds_sum", ())], 0)
        self.assertGreaterEqual(
            s[("waba_monitor_last_pass_timestamp_seconds", ())], t0)
        self.assertLessEqual(
            s[("waba_monitor_last_pass_timestamp_seconds", ())], time.time())
        # With another config no worker made a segment: none is left
        # behind for nothing to read.
        other = self.st.path("other-monitor.conf")
        with open(self.st.config_path) as f, open(other, "w") as g:
            g.write(f.read())
        os.chown(other, -1, self.st.pool_gid)
        os.chmod(other, 0o640)
        r = self.admin_as_pool("monitor", "--once", config=other)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(
            self.segment(self.st.config_path, self.st.pool_uid)))
        self.assertFalse(os.path.exists(
            self.segment(other, self.st.pool_uid)))
        self.assertEqual(self.scrape()[("waba_monitor_passes_total", ())], 1)
