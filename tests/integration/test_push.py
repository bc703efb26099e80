"""Issue 13 item 4: the events pushed to the SaaS ([events] push_url).
A receiver on loopback (this test's own HTTP server) checks each POST's
X-Waba-Signature-256 and records what it got; webhooks delivered to two
workspaces through the real stack must reach it, every one, in id order
per workspace, duplicates only with the same id, across a receiver that
answers 500, one that is not listening at all, and a pool restart while
it is down; status --json shows what is pending and why."""
import hashlib
import hmac
import http.server
import json
import os
import socket
import struct
import threading
import time

from base import StackCase
from meta import PHONE, PHONE_EU, WABA2
from stack import free_port, readable_by_pool, wait_for
from test_webhooks import PW, WebhookBase, messages_body, msg

SECRET = "push secret for the test receiver"


class Receiver:
    """A threading HTTP server that takes pushes: mode "ok" answers 204,
    "fail" 500, and stop() closes the port (connection refused)."""

    def __init__(self, port):
        self.port = port
        self.mode = "ok"
        self.drop = 0        # connections to drop unanswered, body read
        self.got = []        # (workspace, id, event) in arrival order
        self.bad = []        # bad signatures, bad JSON
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    drop = rec.drop > 0
                    rec.drop -= drop
                if drop:
                    # Had it, answers nothing, resets: what a receiver
                    # that restarts mid-request or drops an idle
                    # keep-alive does.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                want = "sha256=" + hmac.new(SECRET.encode(), body,
                                            hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(
                    self.headers.get("X-Waba-Signature-256", ""), want)
                with rec.lock:
                    mode = rec.mode
                    if not ok:
                        rec.bad.append(("signature", body[:200]))
                    elif mode == "ok":
                        try:
                            ev = json.loads(body)
                            rec.got.append((ev["workspace"], ev["id"], ev))
                            if str(ev["id"]) != self.headers.get(
                                    "X-Waba-Event-Id"):
                                rec.bad.append(("event id header", ev["id"]))
                        except (ValueError, KeyError) as e:
                            rec.bad.append(("json", str(e)))
                self.send_response(204 if mode == "ok" and ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1",
                                                       self.port), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ids(self, slug):
        with self.lock:
            return [i for w, i, _ in self.got if w == slug]


class Push(WebhookBase):
    workers = 2

    @classmethod
    def setUpClass(cls):
        cls.rport = free_port()
        cls.rec = Receiver(cls.rport)
        cls.rec.start()
        run = os.path.join(os.path.dirname(__file__), "..", "out", "run")
        os.makedirs(run, exist_ok=True)
        cls.secret_file = os.path.abspath(os.path.join(run,
                                                       "push-secret"))
        with open(cls.secret_file, "w") as f:
            f.write(SECRET + "\n")
        readable_by_pool(cls.secret_file)
        cls.config = {"events.push_url":
                      "http://127.0.0.1:%d/waba/events" % cls.rport,
                      "events.push_secret_file": cls.secret_file}
        super().setUpClass()
        cls.alpha = cls.connect("a@alpha.example", "alpha", PHONE)
        cls.beta = cls.connect("b@beta.example", "beta", PHONE_EU,
                               scenario="two_wabas", waba=WABA2)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.rec.stop()

    # -- helpers -----------------------------------------------------------
    def deliver(self, tag, n, slug_phone=(("alpha", PHONE),
                                          ("beta", PHONE_EU))):
        """n messages to each workspace, acknowledged 200 by us."""
        for i in range(n):
            for slug, phone in slug_phone:
                waba = WABA2 if slug == "beta" else None
                body = messages_body(phone, [msg("wamid.%s.%s.%d" % (
                    tag, slug, i), "%s %s %d" % (tag, slug, i))],
                    **({"waba": waba} if waba else {}))
                r = self.post(body)
                self.assertEqual(r.status, 200, r.text[:300])

    def stored_ids(self, slug):
        db = "waba_ws_%d" % (1 if slug == "alpha" else 2)
        return [int(x) for x in self.st.sql(
            "SELECT id FROM webhook_events ORDER BY id", db=db).split()]

    def all_pushed(self):
        return all(set(self.stored_ids(s)) <= set(self.rec.ids(s))
                   for s in ("alpha", "beta"))

    def status(self, slug):
        return json.loads(self.st.admin("status", slug, "--json").stdout)

    def assert_in_order(self):
        for slug in ("alpha", "beta"):
            ids = self.rec.ids(slug)
            # In order: each first arrival after the one before it;
            # a repeat only ever of the last event acknowledged or a
            # later one being retried, never an older one out of place.
            firsts = []
            for i in ids:
                if i not in firsts:
                    firsts.append(i)
            self.assertEqual(firsts, sorted(firsts), slug)
            self.assertEqual(set(firsts), set(self.stored_ids(slug)), slug)
        self.assertEqual(self.rec.bad, [])

    # -- tests -------------------------------------------------------------
    def test_1_every_event_in_order_signed(self):
        wait_for(lambda: len(self.st.pusher_pids()) == 1, 20, "the pusher")
        self.deliver("one", 15)
        wait_for(self.all_pushed, 20, "every event pushed")
        self.assert_in_order()
        # Each as the feed shows it, with its workspace.
        ev = [e for w, _, e in self.rec.got if w == "alpha"
              and e["type"] == "message"][-1]
        self.assertEqual(set(ev) - {"workspace"},
                         {"id", "type", "received_at", "waba_id",
                          "phone_number_id", "object", "metadata",
                          "contact"})
        self.assertEqual(ev["object"]["text"]["body"][:4], "one ")
        wait_for(lambda: self.status("alpha")["push"]["pending"] == 0, 10,
                 "pending 0")
        self.assertIsNone(self.status("alpha")["push"]["last_error"])

    def test_1b_a_dropped_connection_is_tried_again_at_once(self):
        """A push whose connection the receiver drops unanswered is
        sent again at once on a fresh one: delivered, with no failure
        recorded and no backoff."""
        self.rec.drop = 1
        self.deliver("dropped", 1, (("alpha", PHONE),))
        wait_for(self.all_pushed, 20, "the event pushed")
        self.assertEqual(self.rec.drop, 0)
        st = self.status("alpha")["push"]
        self.assertIsNone(st["last_error"])
        self.assertEqual(st["failures"], 0)
        self.assert_in_order()

    def test_2_receiver_failing_then_back(self):
        self.rec.mode = "fail"
        self.deliver("two", 5)
        wait_for(lambda: (self.status("alpha")["push"]["last_error"] or "")
                 .endswith("HTTP 500"), 20, "the failure seen")
        st = self.status("alpha")["push"]
        self.assertGreater(st["pending"], 0)
        self.assertGreaterEqual(st["failures"], 1)
        self.rec.mode = "ok"
        # Backoff is 2^failures s: back within a few seconds.
        wait_for(self.all_pushed, 40, "every event pushed after the outage")
        self.assert_in_order()
        wait_for(lambda: self.status("alpha")["push"]["pending"] == 0, 10,
                 "pending 0")

    def test_3_receiver_gone_and_pool_restarted(self):
        """Not listening at all (connection refused) while the pool is
        restarted: nothing is lost, it all arrives once it listens."""
        self.rec.stop()
        self.deliver("three", 5)
        wait_for(lambda: "push receiver" in (
            self.status("beta")["push"]["last_error"] or ""), 20,
            "the failure seen")
        self.assertNotIn(SECRET, json.dumps(self.status("beta")))
        self.st.stop_pool()
        self.st.start_pool()
        self.deliver("four", 3)
        self.rec.start()
        wait_for(self.all_pushed, 60, "every event pushed after the restart")
        self.assert_in_order()

    def test_4_secret_nowhere(self):
        for name in os.listdir(self.st.run):
            if name.endswith(".log"):
                with open(os.path.join(self.st.run, name), errors="replace") as f:
                    self.assertNotIn(SECRET, f.read(), name)

    def test_5_config_refused_without_secret(self):
        import subprocess
        from stack import binary
        conf = self.st.path("nosecret.conf")
        with open(self.st.config_path) as f:
            text = f.read().replace("push_secret_file = %s\n"
                                    % self.secret_file, "")
        with open(conf, "w") as f:
            f.write(text)
        r = subprocess.run([binary("waba-connect"), "--config", conf,
                            "--check"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[events] push_url needs push_secret_file",
                      r.stdout + r.stderr)
