"""TLS to Graph, for real: the Meta sandbox on https with a test CA made at
test time by the openssl CLI (scripts/stack.py), so "TLS verification is
always on, ca_file optional" is exercised rather than read off the code.

(a) with [meta] ca_file = the test CA the whole flow works over https;
(b) with the system's CAs only, the same call is refused: a plain page,
    nothing stored, nothing secret in the page or the log;
(c) a certificate from the trusted CA but for another host name
    (example.invalid) is refused even with ca_file."""
import html
import os
import re
import signal
import urllib.parse

from base import StackCase
from meta import PHONE, Sandbox, csrf, post_form, settings_path, sign_in, \
    start_connect
from stack import binary, wait_for

PW = "tls test password 1"
SLUG = "tls"
S = settings_path(SLUG)
REFUSED = ("We could not confirm that we were talking to Meta while "
           "exchanging Meta's authorization code")


class TLS(StackCase):
    workers = 2
    sandbox = True
    sandbox_tls = True
    config = {"meta.timeout_ms": 3000, "meta.max_retries": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "TLS Ltd")
        cls.st.admin("user", "add", SLUG, "tess@tls.example", input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret,
                          ca_file=self.st.sandbox_ca)
        self.sb.reset()
        self.b = sign_in(self.port, "tess@tls.example", PW)
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        with open(self.st.path("pool.log"), "rb") as f:
            self.log_from = len(f.read())

    # -- helpers -----------------------------------------------------------
    def row(self):
        out = self.st.sql("SELECT status, IFNULL(waba_id,''), "
                          "IFNULL(phone_number_id,''), token_ct IS NOT NULL "
                          "FROM connection", db="waba_ws_1")
        return tuple(out.rstrip("\n").split("\t"))

    def new_log(self):
        with open(self.st.path("pool.log"), "rb") as f:
            return f.read()[self.log_from:].decode("utf-8", "replace")

    def reload(self, **config):
        """Rewrites the config and waits for the workers SIGHUP starts."""
        before = set(self.st.worker_pids())
        self.st.write_config(**config)
        self.st.procs["pool"].send_signal(signal.SIGHUP)
        wait_for(lambda: len(self.st.worker_pids()) == self.workers and
                 not (set(self.st.worker_pids()) & before), 20,
                 "new generation of workers")

    def callback(self):
        dialog = start_connect(self.b, SLUG)
        cb = self.sb.decide(dialog)
        code = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(cb).query))["code"]
        return self.b.get(cb), code

    def assert_refused(self, r, code, why):
        """The page says so in plain words; nothing reached Meta, nothing
        was stored, and no secret is in the page or the log."""
        self.assertEqual(r.status, 502, r.text[:800])
        text = html.unescape(r.text)
        self.assertIn(REFUSED, text)
        self.assertIn("certificate could not be verified", text)
        self.assertIn("Nothing was sent and nothing was changed", text)
        self.assertEqual(self.row()[:4], ("not_connected", "", "", "0"))
        # The handshake failed before any HTTP: the code was not spent.
        self.assertEqual(self.sb.requests("access_token"), [])
        log = self.new_log()
        self.assertRegex(log, r"graph access_token: Meta's TLS certificate "
                         r"was not accepted \(.*%s" % why)
        self.assertNotIn("retrying", log)
        for secret in (self.st.app_secret, code,
                       urllib.parse.quote(code, safe="")):
            self.assertNotIn(secret, text)
            self.assertNotIn(secret, log)

    # -- (a) ----------------------------------------------------------------
    def test_connect_over_https_with_ca_file(self):
        loc = start_connect(self.b, SLUG)
        self.assertTrue(loc.startswith("https://127.0.0.1:%d/v25.0/dialog/"
                                       "oauth?" % self.st.sandbox_port), loc)
        r = self.b.get(self.sb.decide(loc))
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        page = self.b.get(S + "/phone-numbers")
        self.assertEqual(page.status, 200, page.text[:800])
        self.assertIn("+1 555 0100", page.text)
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "?m=connected")
        self.assertIn("Connected", self.b.get(S).text)
        self.assertEqual(self.row()[:4], ("connected", "102290129340398",
                                          PHONE, "1"))
        r = post_form(self.b, S + "/test-message", {"to": "4915112345678"})
        self.assertEqual(r.status, 303, r.text[:800])
        msgs = self.sb.state()["messages"]
        self.assertEqual([m["wa_id"] for m in msgs], ["4915112345678"])
        page = self.b.get(S + "?m=test_sent")
        self.assertIn(msgs[0]["id"], html.unescape(page.text))
        graph = [q for q in self.sb.requests()
                 if q["endpoint"] not in ("dialog", "dialog_decide")]
        self.assertGreaterEqual(len(graph), 7)
        for q in graph:
            self.assertEqual(q["scheme"], "https", q["endpoint"])

    # -- (b) ----------------------------------------------------------------
    def test_system_cas_only_refuse_the_test_ca(self):
        self.reload(**{"meta.ca_file": None})
        try:
            with open(self.st.config_path) as f:
                self.assertNotIn("ca_file", f.read())
            r, code = self.callback()
            self.assert_refused(r, code, "certificate problem")
            # The Connect button still leads somewhere sensible.
            self.assertEqual(self.b.get(S).status, 200)
        finally:
            self.reload(**{"meta.ca_file": self.st.sandbox_ca})

    # -- (c) ----------------------------------------------------------------
    def test_certificate_for_another_host_is_refused(self):
        wrong = self.st.tls_cert("wronghost", san="DNS:example.invalid")
        self.st.stop_sandbox()
        self.st.start_sandbox(tls=wrong)
        try:
            # The test's own control calls accept the wrong name (the
            # chain is still checked); the app must not.
            self.sb.context.check_hostname = False
            self.sb.reset()
            with open(self.st.config_path) as f:
                self.assertTrue(re.search(r"^ca_file = %s$" % re.escape(
                    self.st.sandbox_ca), f.read(), re.M))
            r, code = self.callback()
            self.assert_refused(r, code, "127.0.0.1")
        finally:
            self.st.stop_sandbox()
            self.st.start_sandbox(tls=True)

    def test_ca_file_that_does_not_exist_stops_start_up(self):
        """--check names the key: an unreadable CA file would otherwise
        refuse every Graph call at run time."""
        import subprocess
        conf = self.st.path("bad-ca.conf")
        with open(self.st.config_path) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(re.sub(r"^ca_file = .*$", "ca_file = /nonexistent/ca.pem",
                           text, flags=re.M))
        os.chmod(conf, 0o600)
        r = subprocess.run([binary("waba-connect"), "--config",
                            conf, "--check"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("[meta] ca_file: /nonexistent/ca.pem: No such file",
                      r.stderr)
