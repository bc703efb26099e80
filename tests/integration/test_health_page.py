"""Issue 12, item 5: the settings page's Health card and its Check now
button, through lighttpd, the pool, MariaDB and the Meta sandbox. The
card shows what the monitor's last check stored (health row) in words;
Check now runs that check in the request, once a minute at most per
workspace."""
import html
import re

from base import StackCase
from meta import PHONE, WABA, Sandbox, csrf, post_form, settings_path, sign_in, start_connect

PW = "health page test password"
SLUG = "acme"
S = settings_path(SLUG)
WS_DB = "waba_ws_1"


def dd(page, ident):
    """The text of <dd id=ident>, tags dropped, entities decoded."""
    m = re.search(r'<dd id="%s"[^>]*>(.*?)</dd>' % re.escape(ident), page.text, re.S)
    assert m, (ident, page.text[:3000])
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


def kind(page, ident):
    m = re.search(r'<dd id="%s" class="h-(\w+)"' % re.escape(ident), page.text)
    return m.group(1) if m else None


class HealthPage(StackCase):
    workers = 2
    sandbox = True
    config = {"meta.timeout_ms": 1500, "meta.max_retries": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("workspace", "add", "other", "Other Co")
        cls.st.admin("user", "add", SLUG, "alice@acme.example", input=PW + "\n")
        cls.st.admin("user", "add", "other", "olga@other.example", input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        r = post_form(self.b, S + "/disconnect", {})
        self.assertEqual(r.status, 303)
        self.st.sql("DELETE FROM monitor_leases", db="waba_control")
        self.st.sql("DELETE FROM health", db=WS_DB)
        self.st.sql("DELETE FROM webhook_hourly", db=WS_DB)
        self.connect()
        self.sb.call("POST", "/_sandbox/requests/clear", {})

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

    def monitor(self):
        r = self.st.admin("monitor", "--once", "--workspace", SLUG, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def page(self):
        r = self.b.get(S)
        self.assertEqual(r.status, 200, r.text[:500])
        self.assertIn('id="health"', r.text)
        return r

    def meta_calls(self):
        return [q for q in self.sb.requests() if not q["path"].startswith("/_sandbox")]

    def check_now(self, b=None, token=True, slug=SLUG):
        b = b or self.b
        fields = {}
        if token:
            page = b.get(S)
            fields["csrf_token"] = csrf(page)
        return b.post(settings_path(slug) + "/check", fields)

    def health_audits(self):
        return self.st.sql("SELECT actor FROM audit_log WHERE action = 'health' "
                           "ORDER BY id", db=WS_DB).split()

    def free_lease(self):
        """As if the minute since the last press had passed."""
        self.st.sql("UPDATE monitor_leases SET lease_until = NULL", db="waba_control")

    # -- the card ------------------------------------------------------------
    def test_before_any_check(self):
        p = self.page()
        self.assertIn('id="health-not-checked"', p.text)
        self.assertIn("Not checked yet", p.text)
        self.assertEqual(dd(p, "health-last-check").strip(), "not checked yet")
        self.assertNotIn('id="health-can-send"', p.text)
        self.assertIn('id="check-now"', p.text)
        # The button is a plain form with the session's CSRF token.
        m = re.search(r'<form method="post" action="([^"]+/check)"[^>]*>\s*'
                      r'<input type="hidden" name="csrf_token" value="[0-9a-f]{64}">',
                      p.text)
        self.assertTrue(m, p.text)
        self.assertEqual(m.group(1), S + "/check")
        self.assertEqual(self.meta_calls(), [])  # a page view asks Meta nothing

    def test_not_connected_has_no_card(self):
        post_form(self.b, S + "/disconnect", {})
        r = self.b.get(S)
        self.assertNotIn('id="health"', r.text)
        r = self.check_now()
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), S + "?m=not_connected")
        self.assertEqual(self.meta_calls(), [])

    def test_after_a_healthy_check(self):
        self.monitor()
        p = self.page()
        self.assertNotIn("health-not-checked", p.text)
        self.assertIn("Yes (AVAILABLE)", dd(p, "health-can-send"))
        self.assertEqual(kind(p, "health-can-send"), "ok")
        self.assertIn("1,000 customers a day", dd(p, "health-limit"))
        self.assertIn("High (green)", dd(p, "health-quality"))
        self.assertIn("Approved", dd(p, "health-name"))
        self.assertIn("Yes", dd(p, "health-webhooks"))
        self.assertEqual(kind(p, "health-webhooks"), "ok")
        self.assertRegex(dd(p, "health-last-check"),
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(just now\)")
        # Due again at its point of the hour-long interval: 30 to 90 min.
        m = re.search(r"in (\d+) minutes \(every 60 minutes\)", dd(p, "health-next-check"))
        self.assertTrue(m, dd(p, "health-next-check"))
        self.assertTrue(30 <= int(m.group(1)) <= 90, m.group(0))
        nxt = int(self.st.sql("SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), "
                              "next_check_at) FROM monitor_leases", db="waba_control"))
        self.assertLessEqual(abs(nxt - int(m.group(1))), 1)
        self.assertNotIn('id="health-other"', p.text)

    def test_blocked_shows_metas_reason(self):
        why = "There is an error with the payment method & its <card>."
        fix = "Please add a new payment method to the account."
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "WABA",
                      "can_send_message": "BLOCKED",
                      "errors": [{"error_code": 141006, "error_description": why,
                                  "possible_solution": fix}]})
        self.monitor()
        p = self.page()
        text = dd(p, "health-can-send")
        self.assertIn("No (BLOCKED)", text)
        self.assertIn(why, text)
        self.assertIn("What to do: " + fix, text)
        self.assertEqual(kind(p, "health-can-send"), "bad")
        # Escaped: Meta's words are text, never markup.
        self.assertIn("&amp; its &lt;card&gt;", p.text)
        self.assertNotIn("<card>", p.text)

    def test_limited(self):
        self.sb.call("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE, "entity_type": "PHONE_NUMBER",
                      "can_send_message": "LIMITED",
                      "errors": [{"error_code": 141010,
                                  "error_description": "The business is not verified.",
                                  "possible_solution": "Verify the business."}]})
        self.monitor()
        p = self.page()
        self.assertIn("Limited (LIMITED)", dd(p, "health-can-send"))
        self.assertIn("The business is not verified.", dd(p, "health-can-send"))
        self.assertEqual(kind(p, "health-can-send"), "warn")

    def test_low_quality_and_limit(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "RED",
                      "messaging_limit": "TIER_250"})
        self.monitor()
        p = self.page()
        self.assertIn("Low (red)", dd(p, "health-quality"))
        self.assertIn("recipients are blocking or reporting", dd(p, "health-quality"))
        self.assertEqual(kind(p, "health-quality"), "bad")
        self.assertIn("250 customers a day", dd(p, "health-limit"))
        # The numbers table and the connection's facts say the same.
        row = re.search(r'<tr id="number-%s">(.*?)</tr>' % PHONE, p.text, re.S).group(1)
        self.assertIn("<td>RED</td>", row)
        self.assertIn("250 customers a day", row)
        self.assertIn("<dt>Quality rating</dt><dd>RED</dd>", p.text)

    def test_subscription_missing(self):
        # Removed at Meta: the check subscribes again, and the card is fine.
        self.sb.call("POST", "/_sandbox/unsubscribe", {"waba_id": WABA})
        self.monitor()
        p = self.page()
        self.assertEqual(kind(p, "health-webhooks"), "ok")
        # Had subscribing again failed (the row as the monitor writes it
        # then; the sandbox cannot fail the POST alone): not subscribed,
        # with what to do.
        self.st.sql("UPDATE health SET subscription_ok = 0, webhook_ok = 0, "
                    "warnings = JSON_ARRAY(JSON_OBJECT('code', 'subscription', "
                    "'message', 'Our app is not subscribed to the WhatsApp "
                    "Business Account %s; subscribing again failed: boom. "
                    "Reconnect WhatsApp.'))" % WABA, db=WS_DB)
        p = self.page()
        text = dd(p, "health-webhooks")
        self.assertIn("No: our app is not subscribed", text)
        self.assertIn("Press Check now to subscribe it again", text)
        self.assertIn("subscribing again failed: boom", text)
        self.assertEqual(kind(p, "health-webhooks"), "bad")

    def test_callback_elsewhere(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE,
                      "webhook_override": "https://elsewhere.example/hook"})
        self.monitor()
        p = self.page()
        text = dd(p, "health-webhooks")
        self.assertIn("No", text)
        self.assertIn("https://elsewhere.example/hook", text)

    def test_webhooks_last_seen(self):
        self.st.sql("INSERT INTO webhook_hourly (hour, events, last_at) VALUES "
                    "(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:00:00'), 3, "
                    "'2030-01-02 03:04:05')", db=WS_DB)
        self.monitor()
        p = self.page()
        self.assertIn("Yes; the last one arrived 2030-01-02 03:04:05 UTC",
                      dd(p, "health-webhooks"))

    def test_token_countdown(self):
        self.sb.call("POST", "/_sandbox/tokens/expires",
                     {"all": True, "expires_in": 5 * 86400 + 3600})
        self.monitor()
        p = self.page()
        text = dd(p, "health-token")
        self.assertIn("Expires in 5 days", text)
        self.assertIn("reconnect WhatsApp before then", text)
        self.assertEqual(kind(p, "health-token"), "warn")

    def test_last_error_shown(self):
        self.sb.inject("debug_token", "500", count=10)
        r = self.check_now()
        self.assertEqual(r.header("Location"), S + "?m=check_failed")
        p = self.b.get(r.header("Location"))
        self.assertIn('id="health-last-error"', p.text)
        self.assertIn("checking the token", p.text)
        self.assertIn("tried again after 1, 2, 4", dd(p, "health-next-check"))
        self.assertIn("could not finish", p.text)  # the flash

    # -- Check now -----------------------------------------------------------
    def test_check_now_runs_a_check(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "YELLOW"})
        before = self.health_audits()
        r = self.check_now()
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.header("Location"), S + "?m=check_warnings")
        paths = [q["endpoint"] for q in self.sb.requests()]
        self.assertIn("debug_token", paths)
        self.assertIn("phone", paths)
        self.assertIn("subscribed_apps", paths)
        p = self.b.get(r.header("Location"))
        self.assertIn("Meta reports problems", p.text)
        self.assertIn("Medium (yellow)", dd(p, "health-quality"))
        self.assertIn("(just now)", dd(p, "health-last-check"))
        # Stored and audited as the monitor's own check is.
        self.assertEqual(self.health_audits(), before + ["monitor"])
        # Healthy again, a minute later: the flash says so.
        self.free_lease()
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE, "quality_rating": "GREEN"})
        r = self.check_now()
        self.assertEqual(r.header("Location"), S + "?m=check_ok")
        p = self.b.get(r.header("Location"))
        self.assertIn("everything works", p.text)
        self.assertIn("High (green)", dd(p, "health-quality"))

    def test_second_press_within_the_minute_is_refused(self):
        r = self.check_now()
        self.assertEqual(r.header("Location"), S + "?m=check_ok")
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        # The other worker too: the limit is the lease, in the database.
        for _ in range(3):
            r = self.check_now()
            self.assertEqual(r.status, 303)
            self.assertEqual(r.header("Location"), S + "?m=check_busy")
        self.assertEqual(self.meta_calls(), [])
        p = self.b.get(S + "?m=check_busy")
        self.assertIn("checked less than a minute ago", p.text)
        # Held for the minute; the monitor's own pass waits for it too.
        left = int(self.st.sql("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                               "lease_until) FROM monitor_leases", db="waba_control"))
        self.assertTrue(40 <= left <= 60, left)

    def test_check_now_needs_reconnect(self):
        self.sb.call("POST", "/_sandbox/tokens/revoke", {"all": True, "subcode": 460})
        r = self.check_now()
        self.assertEqual(r.header("Location"), S + "?m=needs_reconnect")
        p = self.b.get(r.header("Location"))
        self.assertIn('id="reconnect-banner"', p.text)

    def test_csrf_missing_is_refused(self):
        r = self.check_now(token=False)
        self.assertEqual(r.status, 403)
        r = self.b.post(S + "/check", {"csrf_token": "0" * 64})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.meta_calls(), [])
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM health", db=WS_DB).strip(), "0")

    def test_non_member_gets_404(self):
        olga = sign_in(self.port, "olga@other.example", PW)
        page = olga.get(settings_path("other"))
        r = olga.post(S + "/check", {"csrf_token": csrf(page)})
        self.assertEqual(r.status, 404)
        self.assertNotIn("Acme", r.text)
        self.assertEqual(self.meta_calls(), [])
