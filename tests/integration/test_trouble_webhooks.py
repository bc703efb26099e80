"""Issue 12, item 4: every WABA webhook field that says a connection is in
trouble, delivered signed by the Meta sandbox through the real stack:
stored (the events feed), applied (the templates table, the webhooks'
warnings in status --json, `health` and the Health card, the connection's
status), and a lifted restriction restoring `connected` only once the
monitor's next check passes."""
import json

from base import StackCase
from client import request
from meta import PHONE, WABA, Sandbox, csrf, post_form, settings_path, sign_in, start_connect

PW = "trouble test password"
SLUG = "acme"
S = settings_path(SLUG)
TPL = "1234567890123456"


class TroubleWebhooks(StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("user", "add", SLUG, "alice@acme.example", input=PW + "\n")
        cls.key = cls.st.admin("api-key", "add", "feed", "--scopes",
                               "events:read").stdout.strip()

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        for t in ("health", "templates", "audit_log"):
            self.st.sql("DELETE FROM %s" % t, db="waba_ws_1")
        self.st.sql("DELETE FROM monitor_leases", db="waba_control")
        dialog = start_connect(self.b, SLUG)
        self.assertEqual(self.b.get(self.sb.decide(dialog)).status, 303)
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.header("Location"), S + "?m=connected")
        self.cursor = self.head()

    def tearDown(self):
        self.sb.clear_injections()

    # -- helpers -----------------------------------------------------------
    def hook(self, kind, **kw):
        kw.setdefault("phone_number_id", PHONE)
        out = self.sb.call("POST", "/_sandbox/webhook", dict(kw, kind=kind))
        self.assertEqual(out["responses"], [200] * len(out["responses"]), out)
        self.assertGreater(out["sent"], 0, out)
        return out

    def page(self, after):
        r = request(self.port, "GET", "/api/v1/w/%s/events?after=%d&limit=1000"
                    % (SLUG, after), headers={"Authorization": "Bearer " + self.key})
        self.assertEqual(r.status, 200, r.text[:300])
        return json.loads(r.text)

    def head(self):
        after = 0
        while True:
            out = self.page(after)
            if not out["events"]:
                return after
            after = out["next"]

    def feed(self, type_=None):
        got, after = [], self.cursor
        while True:
            out = self.page(after)
            if not out["events"]:
                return [e for e in got if type_ is None or e["type"] == type_]
            got += out["events"]
            after = out["next"]

    def status(self):
        return json.loads(self.st.admin("status", SLUG, "--json").stdout)

    def warnings(self, code=None):
        ws = self.status()["health"]["warnings"]
        return [w for w in ws if code is None or w["code"] == code]

    def template(self):
        return self.st.sql("SELECT IFNULL(name,''), IFNULL(language,''), "
                           "IFNULL(status,''), IFNULL(category,''), "
                           "IFNULL(quality,''), IFNULL(reason,'') FROM templates "
                           "WHERE id = '%s'" % TPL, db="waba_ws_1").rstrip("\n").split("\t")

    def monitor(self, *args, ok=True):
        r = self.st.admin("monitor", "--once", *args, check=False)
        self.assertEqual(r.returncode, 0 if ok else 1, r.stdout + r.stderr)

    # -- templates -----------------------------------------------------------
    def test_template_fields_keep_the_table(self):
        self.hook("message_template_status_update", event="REJECTED",
                  reason="INVALID_FORMAT", redeliver=True)
        self.assertEqual(self.template(), ["order_update", "en_US", "REJECTED",
                                           "UTILITY", "", "INVALID_FORMAT"])
        ev = self.feed("template_status")
        self.assertEqual(len(ev), 1, ev)  # redelivered, stored once
        self.assertEqual(ev[0]["object"]["event"], "REJECTED")
        self.assertEqual(ev[0]["metadata"], {"field": "message_template_status_update"})
        self.assertEqual(ev[0]["waba_id"], WABA)
        # The Templates card: the count, and the rejection in plain words.
        page = self.b.get(S).text
        self.assertIn('<li id="templates-REJECTED"><strong>1</strong> REJECTED</li>', page)
        self.assertIn('id="template-%s"' % TPL, page)
        self.assertIn("the format is wrong", page)
        self.hook("message_template_quality_update", quality="RED")
        self.hook("template_category_update", category="MARKETING")
        self.assertEqual(self.template()[2:5], ["REJECTED", "MARKETING", "RED"])
        self.assertEqual([e["metadata"]["field"] for e in self.feed("template_status")],
                         ["message_template_status_update",
                          "message_template_quality_update", "template_category_update"])
        # A pause fails every send: a warning with Meta's words, until approved.
        self.hook("message_template_status_update", event="PAUSED", reason="NONE",
                  value={"other_info": {"title": "FIRST_PAUSE", "description":
                                        "Your template was paused for low quality."}})
        self.assertEqual(self.template()[2], "PAUSED")
        self.assertEqual(self.template()[5], "Your template was paused for low quality.")
        w = self.warnings("template")
        self.assertEqual(len(w), 1, w)
        self.assertIn("paused for low quality", w[0]["message"])
        self.assertIn("Your template was paused for low quality.", self.b.get(S).text)
        self.assertEqual(w[0]["source"], "webhook")
        self.assertNotIn("key", w[0])
        self.hook("message_template_status_update", event="APPROVED", reason="NONE")
        self.assertEqual(self.template()[2], "APPROVED")
        page = self.b.get(S).text
        self.assertIn('<li id="templates-APPROVED"><strong>1</strong> APPROVED</li>', page)
        self.assertNotIn('id="templates-troubled"', page)
        self.assertEqual(self.template()[5], "")
        self.assertEqual(self.warnings("template"), [])

    # -- the number ----------------------------------------------------------
    def test_phone_quality_flagged_until_unflagged(self):
        self.hook("phone_number_quality_update", event="FLAGGED")
        ev = self.feed("phone_quality")
        self.assertEqual([e["object"]["event"] for e in ev], ["FLAGGED"])
        w = self.warnings("quality_flagged")
        self.assertEqual(len(w), 1, self.warnings())
        self.assertEqual(w[0]["phone_number_id"], PHONE)
        r = self.st.admin("health", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("flagged", r.stdout)
        # The card shows it without a check having run.
        self.assertIn("Meta flagged the number", self.b.get(S).text)
        # The monitor's check keeps the webhooks' warnings.
        self.monitor("--workspace", SLUG)
        self.assertEqual(len(self.warnings("quality_flagged")), 1)
        self.hook("phone_number_quality_update", event="UNFLAGGED")
        self.assertEqual(self.warnings("quality_flagged"), [])
        self.hook("phone_number_quality_update", event="DOWNGRADE",
                  old_limit="TIER_10K", current_limit="TIER_1K")
        self.assertIn("TIER_10K -> TIER_1K", self.warnings("messaging_limit")[0]["message"])

    def test_display_name_rejected_until_approved(self):
        self.hook("phone_number_name_update", decision="REJECTED", name="Acme!!",
                  reason="NAME_FORMAT_UNACCEPTABLE")
        ev = self.feed("phone_number_name_update")
        self.assertEqual(ev[0]["object"]["decision"], "REJECTED")
        w = self.warnings("display_name")
        self.assertIn("Acme!!", w[0]["message"])
        self.assertIn("NAME_FORMAT_UNACCEPTABLE", w[0]["message"])
        self.assertEqual(w[0]["phone_number_id"], PHONE)
        self.hook("phone_number_name_update", decision="APPROVED", name="Acme")
        self.assertEqual(self.warnings("display_name"), [])

    def test_security_pin_may_be_stale(self):
        for event in ("PIN_CHANGED", "PIN_RESET_REQUEST"):
            self.hook("security", event=event, requester="987654321")
            w = self.warnings("pin")
            self.assertEqual(len(w), 1, w)
            self.assertIn("may be stale", w[0]["message"])
        self.assertEqual([e["object"]["event"] for e in self.feed("security")],
                         ["PIN_CHANGED", "PIN_RESET_REQUEST"])
        # No PIN in the feed, the warning or the page.
        self.assertNotIn("123456", json.dumps(self.feed()))
        self.assertNotIn("123456", json.dumps(self.warnings()))
        # Meta sends nothing that ends it; a disconnect does.
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        self.assertEqual(self.warnings("pin"), [])

    # -- the account -----------------------------------------------------------
    def test_alerts_review_and_capability(self):
        self.hook("account_alerts")
        w = self.warnings("account_alert")
        self.assertIn("INCREASED_CAPABILITIES_ELIGIBILITY_FAILED", w[0]["message"])
        self.hook("account_alerts", alert_status="NONE")
        self.assertEqual(self.warnings("account_alert"), [])
        self.hook("account_alerts", severity="INFORMATIONAL", alert_type="OBA_APPROVED")
        self.assertEqual(self.warnings("account_alert"), [])
        self.hook("account_review_update", decision="REJECTED")
        self.assertIn("REJECTED", self.warnings("account_review")[0]["message"])
        self.hook("account_review_update", decision="APPROVED")
        self.assertEqual(self.warnings("account_review"), [])
        self.hook("business_capability_update")
        ev = self.feed("business_capability_update")
        self.assertEqual(ev[0]["object"]["max_daily_conversations_per_business"], 2000)
        self.assertEqual(self.warnings(), [])
        self.assertEqual([e["type"] for e in self.feed()],
                         ["account_alerts"] * 3 + ["account_review_update"] * 2
                         + ["business_capability_update"])

    def test_violation_and_scheduled_disable_warn(self):
        self.hook("account_update", event="ACCOUNT_VIOLATION", violation_type="SCAM")
        self.assertIn("SCAM", self.warnings("account_violation")[0]["message"])
        self.hook("account_update", event="DISABLED_UPDATE",
                  ban_state="SCHEDULE_FOR_DISABLE")
        self.assertEqual(len(self.warnings("disable_scheduled")), 1)
        self.assertEqual(self.status()["status"], "connected")
        self.hook("account_update", event="DISABLED_UPDATE", ban_state="REINSTATE")
        self.assertEqual(self.warnings("disable_scheduled"), [])

    def test_lifted_ban_restores_only_after_a_passing_check(self):
        self.hook("account_update", event="DISABLED_UPDATE", ban_state="DISABLE")
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.monitor()  # due (never checked): the ban holds
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.hook("account_update", event="DISABLED_UPDATE", ban_state="REINSTATE")
        js = self.status()
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("next health check", js["reason"])
        # A check Meta fails restores nothing.
        self.sb.inject("debug_token", "500", count=10)
        self.monitor(ok=False)  # due now (the lift made it so): Meta fails
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.sb.clear_injections()
        self.st.sql("UPDATE monitor_leases SET next_check_at = UTC_TIMESTAMP()",
                    db="waba_control")
        self.monitor()
        js = self.status()
        self.assertEqual((js["status"], js["reason"]), ("connected", None))
        states = [e["object"]["state"] for e in self.feed("connection")]
        self.assertEqual(states, ["needs_reconnect", "restored"])
        self.assertEqual([e["object"]["event"] for e in self.feed("account_update")],
                         ["DISABLED_UPDATE", "DISABLED_UPDATE"])

    def test_offboarded_held_until_reconnected(self):
        self.hook("account_update", event="ACCOUNT_OFFBOARDED")
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.monitor("--workspace", SLUG)  # the token works; the hold stays
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.hook("account_update", event="ACCOUNT_RECONNECTED")
        self.assertEqual(self.status()["status"], "needs_reconnect")
        self.monitor()
        self.assertEqual(self.status()["status"], "connected")
