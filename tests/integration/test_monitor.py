"""Issue 12: the health monitor through the real stack (MariaDB, the pool,
lighttpd, the Meta sandbox): `monitor --once`, the leases, what a check
finds and stores, `health`, status --json's "health", and the supervisor's
monitor child."""
import json
import os
import pty
import signal
import subprocess
import threading
import time

from base import StackCase
from client import request
from meta import PHONE, WABA, Sandbox, csrf, post_form, settings_path, sign_in, start_connect
from stack import binary, wait_for

PW = "monitor test password"
SLUG = "acme"
S = settings_path(SLUG)


class Monitor(StackCase):
    workers = 2
    sandbox = True
    config = {"meta.timeout_ms": 1500, "meta.max_retries": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("workspace", "add", "other", "Other Co")
        cls.st.admin("user", "add", SLUG, "alice@acme.example", input=PW + "\n")
        cls.key = cls.st.admin("api-key", "add", "feed", "--scopes",
                               "events:read").stdout.strip()

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        r = post_form(self.b, S + "/disconnect", {})
        self.assertEqual(r.status, 303)
        self.st.sql("DELETE FROM monitor_leases", db="waba_control")
        self.st.sql("DELETE FROM health", db="waba_ws_1")
        self.st.sql("DELETE FROM audit_log", db="waba_ws_1")
        self.connect()
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        self.cursor = self.feed_head()

    # -- helpers -----------------------------------------------------------
    def connect(self):
        dialog = start_connect(self.b, SLUG)
        r = self.b.get(self.sb.decide(dialog))
        self.assertEqual(r.status, 303, r.text[:800])
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.header("Location"), S + "?m=connected")

    def monitor(self, *args, check=True):
        r = self.st.admin("monitor", "--once", *args, check=False)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def status(self):
        return json.loads(self.st.admin("status", SLUG, "--json").stdout)

    def codes(self, js=None):
        return [w["code"] for w in (js or self.status())["health"]["warnings"]]

    def audit(self, action):
        return self.st.sql("SELECT detail FROM audit_log WHERE action = '%s'"
                           % action, db="waba_ws_1").splitlines()

    def feed_page(self, after):
        r = request(self.port, "GET", "/api/v1/w/%s/events?after=%d&limit=1000"
                    % (SLUG, after), headers={"Authorization": "Bearer " + self.key})
        self.assertEqual(r.status, 200, r.text[:300])
        return json.loads(r.text)

    def feed_head(self):
        after = 0
        while True:
            out = self.feed_page(after)
            if not out["events"]:
                return after
            after = out["next"]

    def feed(self, type_=None):
        """The feed's events since setUp, of one type."""
        got, after = [], self.cursor
        while True:
            out = self.feed_page(after)
            if not out["events"]:
                return [e for e in got if type_ is None or e["type"] == type_]
            got += out["events"]
            after = out["next"]

    def states(self):
        return [e["object"]["state"] for e in self.feed("connection")]

    def calls(self, endpoint, method=None):
        return [q for q in self.sb.requests(endpoint)
                if method is None or q["method"] == method]

    # -- what a check finds ------------------------------------------------
    def test_healthy(self):
        self.monitor("--workspace", SLUG)
        js = self.status()
        h = js["health"]
        self.assertEqual(js["status"], "connected")
        self.assertRegex(h["checked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(h["can_send_message"], "AVAILABLE")
        self.assertEqual(h["quality_rating"], "GREEN")
        self.assertEqual(h["messaging_limit"], "TIER_1K")
        self.assertEqual(h["name_status"], "APPROVED")
        self.assertIs(h["webhook_ok"], True)
        self.assertIs(h["subscription_ok"], True)
        self.assertEqual(h["warnings"], [])
        self.assertIsNone(h["last_error"])
        # Each call once, with the fields Meta documents.
        self.assertEqual(len(self.calls("debug_token")), 1)
        phone = self.calls("phone")
        self.assertEqual(len(phone), 1)
        fields = phone[0]["query"]["fields"]
        for f in ("health_status", "webhook_configuration", "throughput",
                  "whatsapp_business_manager_messaging_limit", "quality_rating",
                  "name_status", "code_verification_status", "status"):
            self.assertIn(f, fields)
        self.assertEqual(len(self.calls("subscribed_apps", "GET")), 1)
        self.assertEqual(self.calls("subscribed_apps", "POST"), [])
        r = self.st.admin("health", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("no workspace has a problem", r.stdout)

    def test_revoked_token_needs_reconnect(self):
        self.sb.call("POST", "/_sandbox/tokens/revoke", {"all": True, "subcode": 460})
        self.monitor()  # due: never checked; no page is viewed
        js = self.status()
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertTrue(js["reason"])
        r = self.st.admin("health", "--json", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual([x["workspace"] for x in rows], [SLUG])
        self.assertEqual(rows[0]["status"], "needs_reconnect")
        # A second check says nothing new: needs_reconnect audited once.
        self.monitor("--workspace", SLUG)
        self.assertEqual(len(self.audit("needs_reconnect")), 1)

    def test_waba_ungranted(self):
        self.sb.call("POST", "/_sandbox/tokens/unshare", {"all": True, "waba_id": WABA})
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn(WABA, js["reason"])

    def test_expiring_token(self):
        self.sb.call("POST", "/_sandbox/tokens/expires",
                     {"all": True, "expires_in": 3 * 86400 + 60})
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertEqual(js["status"], "connected")
        self.assertIn("token_expiring", self.codes(js))
        w = [x for x in js["health"]["warnings"] if x["code"] == "token_expiring"][0]
        self.assertIn("in 3 days", w["message"])
        # One `expiring` event, not one a pass; no at_risk for it.
        self.assertEqual(self.states(), ["expiring"])
        ev = self.feed("connection")[0]
        self.assertIn("expires at", ev["object"]["reason"])
        self.assertEqual(ev["phone_number_id"], PHONE)
        self.monitor("--workspace", SLUG)
        self.assertEqual(self.states(), ["expiring"])

    def test_subscription_removed_is_restored_once(self):
        self.sb.call("POST", "/_sandbox/unsubscribe", {"waba_id": WABA})
        self.monitor("--workspace", SLUG)
        self.assertIn("1234567890123456", self.sb.state()["wabas"][WABA]["subscribed_apps"])
        self.assertEqual(len(self.calls("subscribed_apps", "POST")), 1)
        self.assertEqual(len(self.audit("resubscribed")), 1)
        self.assertIn(WABA, self.audit("resubscribed")[0])
        self.assertIs(self.status()["health"]["subscription_ok"], True)
        # Subscribed again: the next check does not post again.
        self.monitor("--workspace", SLUG)
        self.assertEqual(len(self.calls("subscribed_apps", "POST")), 1)

    def test_callback_url_elsewhere(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE,
                      "webhook_override": "https://elsewhere.example/hook"})
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertIn("callback_url", self.codes(js))
        self.assertIs(js["health"]["webhook_ok"], False)
        w = [x for x in js["health"]["warnings"] if x["code"] == "callback_url"][0]
        self.assertIn("https://elsewhere.example/hook", w["message"])
        self.assertEqual(w["phone_number_id"], PHONE)
        # The app's own callback elsewhere counts too.
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "webhook_override": None})
        self.sb.call("POST", "/_sandbox/app/webhook",
                     {"webhook_url": "https://old.example/meta"})
        self.monitor("--workspace", SLUG)
        self.assertIn("callback_url", self.codes())

    def test_blocked_with_metas_reason(self):
        why = "There is an error with the payment method."
        fix = "Please add a new payment method to the account."
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "WABA",
                      "can_send_message": "BLOCKED",
                      "errors": [{"error_code": 141006, "error_description": why,
                                  "possible_solution": fix}]})
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "RED"})
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertEqual(js["health"]["can_send_message"], "BLOCKED")
        self.assertEqual(js["health"]["quality_rating"], "RED")
        w = [x for x in js["health"]["warnings"] if x["code"] == "can_send"][0]
        self.assertIn(why, w["message"])
        self.assertIn(fix, w["message"])
        self.assertIn("141006", w["message"])
        self.assertIn("quality", self.codes(js))
        audit = self.audit("health")
        self.assertTrue(any("can send" in a and "BLOCKED" in a for a in audit), audit)
        r = self.st.admin("health", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(SLUG + ": connected", r.stdout)
        self.assertIn(why, r.stdout)

    def test_at_risk_quality_and_restored_events_once_per_change(self):
        self.monitor("--workspace", SLUG)
        self.assertEqual(self.feed(), [])  # a healthy first check says nothing
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "WABA",
                      "can_send_message": "LIMITED",
                      "errors": [{"error_code": 141010, "error_description":
                                  "The business is not verified."}]})
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "YELLOW"})
        self.monitor("--workspace", SLUG)
        self.monitor("--workspace", SLUG)  # nothing new: no second event
        self.assertEqual(self.states(), ["at_risk"])
        self.assertTrue(self.feed("connection")[0]["object"]["reason"])
        q = self.feed("phone_quality")
        self.assertEqual(len(q), 1, q)
        self.assertEqual(q[0]["object"]["quality_rating"], "YELLOW")
        self.assertEqual(q[0]["object"]["previous"], "GREEN")
        self.assertEqual(q[0]["phone_number_id"], PHONE)
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "WABA",
                      "can_send_message": "AVAILABLE", "errors": []})
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "GREEN"})
        self.monitor("--workspace", SLUG)
        self.assertEqual(self.states(), ["at_risk", "restored"])
        self.assertEqual([e["object"]["quality_rating"]
                          for e in self.feed("phone_quality")], ["YELLOW", "GREEN"])

    def test_resubscribe_failed(self):
        # GET shows the app missing; subscribing again (POST) fails at Meta.
        self.sb.call("POST", "/_sandbox/unsubscribe", {"waba_id": WABA})
        self.sb.inject("subscribed_apps", "500", count=5, method="POST")
        self.monitor("--workspace", SLUG)
        self.assertGreaterEqual(len(self.calls("subscribed_apps", "POST")), 1)
        self.assertNotIn("1234567890123456",
                         self.sb.state()["wabas"][WABA]["subscribed_apps"])
        js = self.status()
        self.assertIs(js["health"]["subscription_ok"], False)
        self.assertIs(js["health"]["webhook_ok"], False)
        self.assertIn("subscription", self.codes(js))
        self.assertEqual(len(self.audit("resubscribe_failed")), 1)
        self.assertEqual(self.audit("resubscribed"), [])
        self.assertEqual(self.states(), ["at_risk"])
        r = self.st.admin("health", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not subscribed", r.stdout)
        # Meta works again: the next check subscribes, the warning goes.
        self.sb.clear_injections()
        self.monitor("--workspace", SLUG)
        self.assertEqual(len(self.audit("resubscribed")), 1)
        self.assertNotIn("subscription", self.codes())
        self.assertEqual(self.states(), ["at_risk", "restored"])

    def test_display_name_and_number_status(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "name_status": "DECLINED",
                      "status": "FLAGGED"})
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertEqual(js["health"]["name_status"], "DECLINED")
        ws = {w["code"]: w for w in js["health"]["warnings"]}
        self.assertIn("DECLINED", ws["display_name"]["message"])
        self.assertEqual(ws["display_name"]["phone_number_id"], PHONE)
        self.assertIn("FLAGGED", ws["number_status"]["message"])
        r = self.st.admin("health", "--json", check=False)
        self.assertEqual(r.returncode, 1)
        row = json.loads(r.stdout.splitlines()[0])
        self.assertEqual({w["code"] for w in row["warnings"]},
                         {"display_name", "number_status"})

    def test_webhooks_silent_while_sends_succeed(self):
        self.st.sql("DELETE FROM webhook_hourly", db="waba_ws_1")
        self.st.sql("REPLACE INTO send_hourly VALUES (DATE_FORMAT(UTC_TIMESTAMP(), "
                    "'%Y-%m-%d %H:00:00'), 5, 0)", db="waba_ws_1")
        try:
            self.monitor("--workspace", SLUG)
            js = self.status()
            self.assertIn("webhooks_silent", self.codes(js))
            self.assertIs(js["health"]["webhook_ok"], False)
        finally:
            self.st.sql("DELETE FROM send_hourly", db="waba_ws_1")

    # -- each kind on every surface (issue 12, Done when) -------------------
    def surfaces(self, status, code, state, page):
        """After one `monitor --once` and no page view: the kind shows in
        status --json (status, or the warning code), in `health --json`
        (exit 1, this workspace), as a `connection` event of that state,
        and on the settings page (page: a regex over its HTML)."""
        self.monitor()
        js = self.status()
        self.assertEqual(js["status"], status)
        if code:
            self.assertIn(code, self.codes(js))
        r = self.st.admin("health", "--json", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = {x["workspace"]: x for x in map(json.loads,
                                                r.stdout.splitlines())}
        self.assertIn(SLUG, rows)
        if code:
            self.assertIn(code, [w["code"] for w in rows[SLUG]["warnings"]])
        self.assertIn(state, self.states())
        self.assertRegex(self.b.get(S).text, page)

    def test_surfaces_revoked_token(self):
        self.sb.call("POST", "/_sandbox/tokens/revoke", {"all": True, "subcode": 460})
        self.surfaces("needs_reconnect", None, "needs_reconnect",
                      r'id="reconnect-banner"')

    def test_surfaces_waba_ungranted(self):
        self.sb.call("POST", "/_sandbox/tokens/unshare", {"all": True, "waba_id": WABA})
        self.surfaces("needs_reconnect", None, "needs_reconnect",
                      r'id="reconnect-banner"')

    def test_surfaces_callback_elsewhere(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE,
                      "webhook_override": "https://elsewhere.example/hook"})
        self.surfaces("connected", "callback_url", "at_risk",
                      r'id="health-webhooks" class="h-(warn|bad)"')

    def test_surfaces_expiring(self):
        self.sb.call("POST", "/_sandbox/tokens/expires",
                     {"all": True, "expires_in": 3 * 86400 + 60})
        self.surfaces("connected", "token_expiring", "expiring",
                      r'id="health-token" class="h-(warn|bad)"')

    def test_surfaces_blocked(self):
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "WABA",
                      "can_send_message": "BLOCKED",
                      "errors": [{"error_code": 141006,
                                  "error_description": "There is an error "
                                  "with the payment method.",
                                  "possible_solution": "Add a payment "
                                  "method."}]})
        self.surfaces("connected", "can_send", "at_risk",
                      r'id="health-can-send" class="h-bad"')

    def test_surfaces_webhooks_silent(self):
        self.st.sql("DELETE FROM webhook_hourly", db="waba_ws_1")
        self.st.sql("REPLACE INTO send_hourly VALUES (DATE_FORMAT(UTC_TIMESTAMP(), "
                    "'%Y-%m-%d %H:00:00'), 5, 0)", db="waba_ws_1")
        try:
            self.surfaces("connected", "webhooks_silent", "at_risk",
                          r'id="health-webhooks" class="h-(warn|bad)"')
        finally:
            self.st.sql("DELETE FROM send_hourly", db="waba_ws_1")

    # -- leases and backoff --------------------------------------------------
    def test_two_monitors_check_each_workspace_once(self):
        # Slow debug_token: the two passes overlap.
        self.sb.inject("debug_token", "timeout", count=1, delay=1.0)
        out = []

        def run():
            out.append(self.st.admin("monitor", "--once", check=False))
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([r.returncode for r in out], [0, 0],
                         [r.stderr for r in out])
        self.assertEqual(len(self.calls("debug_token")), 1)
        # Due again only an interval on: a third pass checks nothing.
        self.monitor()
        self.assertEqual(len(self.calls("debug_token")), 1)
        nxt = self.st.sql("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                          "next_check_at) FROM monitor_leases WHERE workspace_id = 1",
                          db="waba_control").strip()
        self.assertGreater(int(nxt), 30 * 60 - 5)
        self.assertLessEqual(int(nxt), 90 * 60)

    def test_meta_5xx_backs_off(self):
        self.sb.inject("debug_token", "500", count=10)
        r = self.monitor(check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        row = self.st.sql("SELECT failures, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                          "next_check_at), lease_owner IS NULL FROM monitor_leases "
                          "WHERE workspace_id = 1", db="waba_control").split()
        self.assertEqual(row[0], "1")
        self.assertTrue(50 <= int(row[1]) <= 60, row)
        self.assertEqual(row[2], "1")
        js = self.status()
        self.assertIn("checking the token", js["health"]["last_error"])
        n = len(self.calls("debug_token"))
        # Not due yet: nobody calls Meta for it again at once.
        self.monitor(check=False)
        self.assertEqual(len(self.calls("debug_token")), n)
        # Due again: it fails once more, and waits twice as long.
        self.st.sql("UPDATE monitor_leases SET next_check_at = UTC_TIMESTAMP()",
                    db="waba_control")
        self.monitor(check=False)
        row = self.st.sql("SELECT failures, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                          "next_check_at) FROM monitor_leases WHERE workspace_id = 1",
                          db="waba_control").split()
        self.assertEqual(row[0], "2")
        self.assertTrue(110 <= int(row[1]) <= 120, row)
        self.sb.clear_injections()
        self.monitor("--workspace", SLUG)
        self.assertIsNone(self.status()["health"]["last_error"])
        r = self.st.sql("SELECT failures FROM monitor_leases WHERE workspace_id = 1",
                        db="waba_control").strip()
        self.assertEqual(r, "0")

    def test_lifted_restriction_restores_only_after_a_passing_check(self):
        self.st.sql("UPDATE connection SET status = 'needs_reconnect', "
                    "reason = 'Meta restricted this account', "
                    "restriction = 'Meta restricted this account', "
                    "restriction_event = 'ACCOUNT_RESTRICTION', "
                    "restriction_waba = '%s', restriction_at = UTC_TIMESTAMP()" % WABA,
                    db="waba_ws_1")
        self.monitor("--workspace", SLUG)
        self.assertEqual(self.status()["status"], "needs_reconnect")
        # Lifted (as an account_update would leave it): nothing changes yet.
        self.st.sql("UPDATE connection SET restriction = NULL, restriction_event = NULL, "
                    "restriction_waba = NULL", db="waba_ws_1")
        self.assertEqual(self.status()["status"], "needs_reconnect")
        # A check that fails at Meta restores nothing.
        self.sb.inject("debug_token", "500", count=10)
        self.monitor("--workspace", SLUG, check=False)
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.sb.clear_injections()
        self.monitor("--workspace", SLUG)
        js = self.status()
        self.assertEqual(js["status"], "connected")
        self.assertIsNone(js["reason"])
        self.assertEqual(len(self.audit("restored")), 1)

    def test_usage(self):
        r = self.st.admin("monitor", "--workspace", "nope", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no workspace nope", r.stderr)
        r = self.st.admin("monitor", "--bogus", check=False)
        self.assertEqual(r.returncode, 2)
        r = self.st.admin("health", "extra", check=False)
        self.assertEqual(r.returncode, 2)

    def test_sigterm_stops_the_foreground_monitor(self):
        p = subprocess.Popen([binary("waba-connect-admin"), "--config",
                              self.st.config_path, "monitor"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: len(self.calls("subscribed_apps")) > 0, 20, "a check")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        self.assertEqual(self.status()["health"]["warnings"], [])


class MonitorChild(StackCase):
    """The standalone supervisor's monitor child."""
    workers = 2
    sandbox = True
    config = {"monitor.enabled": "true", "monitor.interval_minutes": 1}

    def test_started_restarted_stopped(self):
        wait_for(lambda: len(self.st.monitor_pids()) == 1, 20, "the monitor")
        self.assertEqual(len(self.st.worker_pids()), 2)
        first = self.st.monitor_pids()[0]
        # Privileges: the workers'.
        uids = {open("/proc/%d/status" % p).read().split("Uid:")[1].split()[0]
                for p in self.st.worker_pids() + [first]}
        self.assertEqual(len(uids), 1, uids)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: self.st.monitor_pids() and self.st.monitor_pids()[0] != first,
                 20, "a new monitor")
        self.assertEqual(len(self.st.monitor_pids()), 1)
        pool = self.st.procs["pool"]
        mon = self.st.monitor_pids()[0]
        self.st.stop_pool()
        self.assertEqual(pool.returncode, 0)
        wait_for(lambda: not os.path.exists("/proc/%d" % mon), 10,
                 "the monitor gone")
        self.st.start_pool()
        wait_for(lambda: len(self.st.monitor_pids()) == 1, 20, "the monitor")


class MonitorConfig(StackCase):
    """[monitor] values are checked at start-up, naming the key."""
    sandbox = False

    def check(self, **kw):
        self.st.write_config(**kw)
        r = subprocess.run([binary("waba-connect"), "--config", self.st.config_path,
                            "--check"], capture_output=True, text=True)
        self.st.write_config(**{k: None for k in kw})
        return r

    def test_bad_values(self):
        for kw, words in (({"monitor.enabled": "maybe"}, "[monitor] enabled"),
                          ({"monitor.interval_minutes": "0"}, "[monitor] interval_minutes"),
                          ({"monitor.expiry_warning_days": "x"},
                           "[monitor] expiry_warning_days"),
                          ({"monitor.nope": "1"}, "nope")):
            r = self.check(**kw)
            self.assertEqual(r.returncode, 1, (kw, r.stdout))
            self.assertIn(words, r.stderr)
        r = self.check(**{"monitor.enabled": "false", "monitor.interval_minutes": "15",
                          "monitor.expiry_warning_days": "14"})
        self.assertEqual(r.returncode, 0, r.stderr)


class MonitorProgress(StackCase):
    """`monitor --once` prints a progress line per 50 workspaces, and only
    on a terminal (run here under a pseudo-terminal)."""
    sandbox = False
    workers = 1

    @classmethod
    def setUpStack(cls):
        for i in range(52):
            cls.st.admin("workspace", "add", "ws%02d" % i, "Workspace %d" % i)

    def run_on_pty(self, argv):
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave)
            os.close(slave)
            slave = -1
            out = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            self.assertEqual(p.wait(60), 0, out)
            return out.decode()
        finally:
            os.close(master)
            if slave != -1:
                os.close(slave)

    def test_progress_line_on_a_terminal(self):
        argv = [binary("waba-connect-admin"), "--config", self.st.config_path,
                "monitor", "--once"]
        out = self.run_on_pty(argv)
        lines = [x for x in out.splitlines() if "workspaces so far" in x]
        self.assertEqual(len(lines), 1, out)  # 52: one line, at 50
        self.assertIn("monitor: 50 workspaces so far (0 checked, 0 failed, "
                      "50 not connected)", lines[0])
        # Not a terminal: no progress lines, just the summary.
        self.st.sql("UPDATE monitor_leases SET next_check_at = UTC_TIMESTAMP()",
                    db="waba_control")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("so far", r.stdout + r.stderr)
        self.assertIn("52 not connected", r.stdout + r.stderr)
