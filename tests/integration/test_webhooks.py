"""Issue 5: Meta's webhooks through lighttpd, the pool and MariaDB, sent
by the Meta sandbox (signed as Meta signs them) and by the test itself."""
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse

from base import StackCase
from client import request
from meta import (PHONE, PHONE_EU, WABA, WABA2, Sandbox, csrf, post_form,
                  settings_path, sign_in, start_connect)

PW = "webhook test password"


def msg(wamid, text, sender="4915112345678"):
    return {"from": sender, "id": wamid, "timestamp": "1764570000",
            "type": "text", "text": {"body": text}}


def entry(waba, phone, messages):
    return {"id": waba, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100",
                     "phone_number_id": phone},
        "contacts": [{"profile": {"name": "Test"}, "wa_id": "4915112345678"}],
        "messages": messages}}]}


def messages_body(phone, messages, waba=WABA):
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [entry(waba, phone, messages)]}).encode()


def account_update(waba, event, when=None, **value):
    """An account_update delivery as Meta sends it (PARTNER_* events on
    the partner's entry, naming the customer's WABA in waba_info), sent
    at when (Unix time; default now)."""
    v = {"event": event}
    v.update(value)
    if event.startswith("PARTNER_"):
        v.setdefault("waba_info", {"waba_id": waba,
                                   "owner_business_id": "77000"})
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "55000" if event.startswith("PARTNER_") else waba,
        "time": int(time.time()) if when is None else when,
        "changes": [{"field": "account_update", "value": v}]}]}).encode()


class WebhookBase(StackCase):
    workers = 3
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "alpha", "Alpha")
        cls.st.admin("workspace", "add", "beta", "Beta")
        cls.st.admin("user", "add", "alpha", "a@alpha.example", input=PW + "\n")
        cls.st.admin("user", "add", "beta", "b@beta.example", input=PW + "\n")

    @classmethod
    def connect(cls, email, slug, phone, scenario=None, waba=None):
        b = sign_in(cls.st.port, email, PW)
        sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cb = sb.decide(start_connect(b, slug), scenario=scenario)
        r = b.get(cb)
        assert r.status == 303, r.text[:500]
        S = settings_path(slug)
        page = b.get(S + "/phone-numbers")
        if waba:
            b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "waba_id": waba})
            page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": phone,
                                          "pin": "123456"})
        assert r.status == 303, r.text[:500]
        return b

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)

    def count(self, db, where="1"):
        return int(self.st.sql("SELECT COUNT(*) FROM webhook_events WHERE "
                               + where, db=db).strip())

    def sign(self, body):
        return "sha256=" + hmac.new(self.st.app_secret.encode(), body,
                                    hashlib.sha256).hexdigest()

    def post(self, body, signature=None):
        h = {"Content-Type": "application/json"}
        sig = self.sign(body) if signature is None else signature
        if sig:
            h["X-Hub-Signature-256"] = sig
        return request(self.port, "POST", "/webhooks/meta", body=body,
                       headers=h)

    def send(self, **kw):
        return self.sb.call("POST", "/_sandbox/webhook", kw)


class Webhooks(WebhookBase):
    @classmethod
    def setUpStack(cls):
        super().setUpStack()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alpha = cls.connect("a@alpha.example", "alpha", PHONE)
        cls.beta = cls.connect("b@beta.example", "beta", PHONE_EU,
                               scenario="two_wabas", waba="102290129340399")

    def test_handshake(self):
        q = {"hub.mode": "subscribe", "hub.verify_token": self.st.verify_token,
             "hub.challenge": "1158201444"}
        r = request(self.port, "GET", "/webhooks/meta?" +
                    urllib.parse.urlencode(q))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.text, "1158201444")
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        for bad in ({"hub.verify_token": "wrong"}, {"hub.mode": "unsubscribe"},
                    {"hub.verify_token": self.st.verify_token + "x"},
                    {"hub.challenge": ""}):
            r = request(self.port, "GET", "/webhooks/meta?" +
                        urllib.parse.urlencode(dict(q, **bad)))
            self.assertEqual(r.status, 403, bad)
        r = request(self.port, "GET", "/webhooks/meta")
        self.assertEqual(r.status, 403)

    def test_delivery_lands_in_the_right_workspace(self):
        a0, b0 = self.count("waba_ws_1"), self.count("waba_ws_2")
        r = self.send(kind="message", phone_number_id=PHONE, text="hello alpha")
        self.assertEqual(r["responses"], [200])
        r = self.send(kind="message", phone_number_id=PHONE_EU, text="hi beta")
        self.assertEqual(r["responses"], [200])
        self.assertEqual(self.count("waba_ws_1"), a0 + 1)
        self.assertEqual(self.count("waba_ws_2"), b0 + 1)
        self.assertEqual(self.count("waba_ws_1", "body = 'hello alpha'"), 1)
        self.assertEqual(self.count("waba_ws_2", "body = 'hello alpha'"), 0)
        # ...and shows on that workspace's page and in status --json.
        page = self.alpha.get(settings_path("alpha"))
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertRegex(js["last_webhook_at"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(js["webhook_events"], self.count(
            "waba_ws_1", "received_at > UTC_TIMESTAMP() - INTERVAL 1 DAY"))
        m = re.search(r'id="webhook-health">([^<]*)<', page.text)
        self.assertIsNotNone(m, page.text[:2000])
        # The page and the admin tool tell the same story.
        self.assertEqual(m.group(1), "%s %s UTC · %d in the last 24 hours" % (
            js["last_webhook_at"][:10], js["last_webhook_at"][11:19],
            js["webhook_events"]))

    def test_statuses_deduplicated_per_status(self):
        post_form(self.alpha, settings_path("alpha") + "/test-message",
                  {"to": "4915112345678"})
        before = self.count("waba_ws_1", "kind = 'status'")
        for st in ("sent", "delivered", "read"):
            r = self.send(kind="status", phone_number_id=PHONE, status=st,
                          redeliver=True)
            self.assertEqual(r["responses"], [200, 200])
        self.assertEqual(self.count("waba_ws_1", "kind = 'status'"), before + 3)

    def test_100_deliveries_twice_concurrently_stored_once(self):
        before = self.count("waba_ws_1")
        # Signed by the sandbox as Meta signs them, but delivered by us
        # (its own delivery goes to a closed port), so that both copies
        # of each delivery are in flight at the same moment.
        r = self.send(kind="message", phone_number_id=PHONE, count=100,
                      url="http://127.0.0.1:9/")
        self.assertEqual(self.count("waba_ws_1"), before)
        bodies = [json.dumps(b, separators=(",", ":")).encode()
                  if not isinstance(b, str) else b.encode()
                  for b in r["bodies"]]
        self.assertEqual(len(set(bodies)), 100)
        results, lock = [], threading.Lock()

        def client(body, barrier):
            barrier.wait()
            st = self.post(body).status
            with lock:
                results.append(st)
        for i in range(0, 100, 4):
            batch = bodies[i:i + 4] * 2     # Meta redelivers every one
            barrier = threading.Barrier(len(batch))
            threads = [threading.Thread(target=client, args=(b, barrier))
                       for b in batch]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(len(results), 200)
        self.assertEqual(set(results), {200})
        self.assertEqual(self.count("waba_ws_1"), before + 100)

    def test_message_ids_differing_in_case_are_two_messages(self):
        # wamids are base64 after "wamid.": case matters.
        body = messages_body(PHONE, [msg("wamid.CaseTestAbC", "upper"),
                                     msg("wamid.casetestabc", "lower")])
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.count(
            "waba_ws_1", "message_id = 'wamid.CaseTestAbC' AND "
            "body = 'upper'"), 1)
        self.assertEqual(self.count(
            "waba_ws_1", "message_id = 'wamid.casetestabc' AND "
            "body = 'lower'"), 1)

    def test_sender_without_phone_number_is_stored(self):
        # A user with a username: Meta withholds "from" and sends the
        # business-scoped user id instead.
        m = msg("wamid.bsuid-only-1", "from a username")
        del m["from"]
        m["from_user_id"] = "US.13491208655302741918"
        self.assertEqual(self.post(messages_body(PHONE, [m])).status, 200)
        self.assertEqual(self.count(
            "waba_ws_1", "wa_from = 'US.13491208655302741918' AND "
            "body = 'from a username'"), 1)
        # Neither a number nor a user id: skipped, acknowledged.
        del m["from_user_id"]
        m["id"] = "wamid.nobody-1"
        self.assertEqual(self.post(messages_body(PHONE, [m])).status, 200)
        self.assertEqual(self.count(
            "waba_ws_1", "message_id = 'wamid.nobody-1'"), 0)

    def test_database_not_yet_migrated_keeps_the_other_events(self):
        # As a workspace database still on schema 1 would be: senders
        # longer than 32 characters do not fit.
        self.st.sql("ALTER TABLE webhook_events MODIFY wa_from "
                    "VARCHAR(32) NULL", db="waba_ws_1")
        try:
            long_sender = msg("wamid.old-schema-1", "long sender")
            del long_sender["from"]
            long_sender["from_user_id"] = "US.ENT." + "1" * 40
            body = messages_body(PHONE, [long_sender,
                                         msg("wamid.old-schema-2", "fits")])
            self.assertEqual(self.post(body).status, 200)
        finally:
            self.st.sql("ALTER TABLE webhook_events MODIFY wa_from "
                        "VARCHAR(160) NULL", db="waba_ws_1")
        self.assertEqual(self.count("waba_ws_1", "body = 'fits'"), 1)
        self.assertEqual(self.count("waba_ws_1", "body = 'long sender'"), 0)
        log = open(self.st.path("pool.log")).read()
        self.assertIn("run waba-connect-admin migrate", log)

    def test_one_delivery_for_two_workspaces(self):
        doc = {"object": "whatsapp_business_account", "entry": [
            entry(WABA, PHONE, [msg("wamid.two-ws-a", "for alpha")]),
            entry(WABA2, PHONE_EU, [msg("wamid.two-ws-b", "for beta")])]}
        body = json.dumps(doc).encode()
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.count("waba_ws_1", "body = 'for alpha'"), 1)
        self.assertEqual(self.count("waba_ws_1", "body = 'for beta'"), 0)
        self.assertEqual(self.count("waba_ws_2", "body = 'for beta'"), 1)
        self.assertEqual(self.count("waba_ws_2", "body = 'for alpha'"), 0)

    def test_bad_signature_stores_nothing(self):
        before = self.count("waba_ws_1")
        for sig in ("bad", "none"):
            r = self.send(kind="message", phone_number_id=PHONE, signature=sig)
            self.assertEqual(r["responses"], [403], sig)
        body = json.dumps({"object": "whatsapp_business_account",
                           "entry": []}).encode()
        for sig in ("sha256=" + "0" * 64, "sha1=" + "0" * 40,
                    self.sign(body)[:-1], self.sign(body + b" ")):
            self.assertEqual(self.post(body, sig).status, 403, sig)
        self.assertEqual(self.count("waba_ws_1"), before)

    def test_unknown_number_and_malformed_are_acknowledged(self):
        before = self.count("waba_ws_1") + self.count("waba_ws_2")
        # A number and a WABA nobody connected: logged and acknowledged.
        r = self.send(kind="message", phone_number_id=PHONE, count=1,
                      url="http://127.0.0.1:9/")   # just to get a body
        body = r["bodies"][0]
        body = body if isinstance(body, str) else json.dumps(body)
        body = body.replace(PHONE, "999000999").replace(WABA, "888000888")
        self.assertEqual(self.post(body.encode()).status, 200)
        for body in (b"not json", b'{"object":"page"}', b"[1,2]",
                     b'{"object":"whatsapp_business_account","entry":[{"id":5}]}'):
            self.assertEqual(self.post(body).status, 200, body)
        self.assertEqual(self.count("waba_ws_1") + self.count("waba_ws_2"),
                         before)

    def test_oversized_body_is_413(self):
        body = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + \
            b"x" * (2 << 20) + b'"}'
        r = self.post(body)
        self.assertEqual(r.status, 413)

    def test_zz_account_update_removal_needs_reconnect(self):
        r = self.send(kind="account_update", waba_id="102290129340399",
                      event="PARTNER_REMOVED")
        self.assertEqual(r["responses"], [200])
        page = self.beta.get(settings_path("beta"))
        self.assertIn("Needs reconnect", page.text)
        self.assertIn('id="reconnect-banner"', page.text)
        js = json.loads(self.st.admin("status", "beta", "--json").stdout)
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertTrue(js["reason"])
        # The other workspace is untouched.
        self.assertEqual(json.loads(self.st.admin(
            "status", "alpha", "--json").stdout)["status"], "connected")
        # The merchant reconnects; then Meta redelivers the old removal:
        # it was recorded once already and must not undo the reconnect.
        self.st.sql("UPDATE connection SET status = 'connected', "
                    "reason = NULL", db="waba_ws_2")
        body = r["bodies"][0]
        body = body.encode() if isinstance(body, str) else \
            json.dumps(body, separators=(",", ":")).encode()
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(json.loads(self.st.admin(
            "status", "beta", "--json").stdout)["status"], "connected")

    def test_zz_account_restriction_and_partner_added(self):
        audits = int(self.st.sql("SELECT COUNT(*) FROM audit_log WHERE "
                                 "action = 'account_update'",
                                 db="waba_ws_1").strip())
        # A business finishing Embedded Signup: recorded, nothing lost.
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_ADDED")).status, 200)
        self.assertEqual(json.loads(self.st.admin(
            "status", "alpha", "--json").stdout)["status"], "connected")
        # The account restricted: the page says so, with Meta's words.
        body = account_update(WABA, "ACCOUNT_RESTRICTION", restriction_info=[
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
             "expiration": 1766000000}])
        self.assertEqual(self.post(body).status, 200)
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("RESTRICTED_BIZ_INITIATED_MESSAGING", js["reason"])
        page = self.alpha.get(settings_path("alpha"))
        self.assertIn("Needs reconnect", page.text)
        self.assertEqual(int(self.st.sql(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account_update'",
            db="waba_ws_1").strip()), audits + 2)
        self.assertEqual(self.count(
            "waba_ws_1", "kind = 'account_update' AND status = "
            "'ACCOUNT_RESTRICTION'"), 1)
        self.st.sql("UPDATE connection SET status = 'connected', "
                    "reason = NULL", db="waba_ws_1")

    def test_zz_database_outage_is_503_then_redelivery_stored(self):
        before = self.count("waba_ws_1")
        self.st.stop_mariadb()
        try:
            r = self.send(kind="message", phone_number_id=PHONE,
                          text="during the outage")
            self.assertEqual(r["responses"], [503])
        finally:
            self.st.start_mariadb()
        body = r["bodies"][0]
        body = body.encode() if isinstance(body, str) else \
            json.dumps(body, separators=(",", ":")).encode()
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.count("waba_ws_1"), before + 1)
        self.assertEqual(self.count("waba_ws_1", "body = 'during the outage'"), 1)


class Routing(WebhookBase):
    """The routing table follows the connection: filled when a WABA is
    connected (before any number is chosen), cleared on disconnect."""

    def test_pending_workspace_then_disconnected(self):
        b = sign_in(self.st.port, "a@alpha.example", PW)
        cb = self.sb.decide(start_connect(b, "alpha"))
        self.assertEqual(b.get(cb).status, 303)
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(js["status"], "pending_phone_selection")
        # No number yet, but the WABA routes here: Meta's account_update
        # for it is recorded and acted on.
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_ADDED")).status, 200)
        self.assertEqual(self.count("waba_ws_1", "kind = 'account_update'"),
                         1)
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_REMOVED")).status, 200)
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(js["status"], "needs_reconnect")
        # Disconnected: nothing routes here any more; Meta is answered
        # 200 so it stops, and nothing is stored.
        self.assertEqual(post_form(b, settings_path("alpha") + "/disconnect",
                                   {}).status, 303)
        before = self.count("waba_ws_1")
        self.assertEqual(self.post(messages_body(
            PHONE, [msg("wamid.after-disconnect", "late")])).status, 200)
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_REMOVED")).status, 200)
        self.assertEqual(self.count("waba_ws_1"), before)
        self.assertEqual(json.loads(self.st.admin(
            "status", "alpha", "--json").stdout)["status"], "not_connected")


class UnusedWaba(WebhookBase):
    """A token may grant WABAs the workspace does not send from."""

    def test_loss_of_a_waba_not_in_use_loses_nothing(self):
        b = self.connect("a@alpha.example", "alpha", PHONE_EU,
                         scenario="two_wabas", waba=WABA2)
        # Reconnect keeping the number: both granted WABAs route here.
        cb = self.sb.decide(start_connect(b, "alpha"), scenario="two_wabas")
        r = b.get(cb)
        self.assertEqual(r.status, 303, r.text[:300])
        routes = self.st.sql("SELECT kind, external_id FROM webhook_routes "
                             "ORDER BY kind, external_id", db="waba_control")
        self.assertEqual(routes.split(), ["phone", PHONE_EU, "waba", WABA,
                                          "waba", WABA2])
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_REMOVED")).status, 200)
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(js["status"], "connected")
        self.assertEqual(self.post(account_update(
            WABA2, "PARTNER_REMOVED")).status, 200)
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(js["status"], "needs_reconnect")


class SmallBodyLimit(WebhookBase):
    """The body limit is the operator's: [meta] webhook_max_body."""
    config = {"meta.webhook_max_body": 4096}

    def test_limit_is_configurable(self):
        self.connect("a@alpha.example", "alpha", PHONE)
        small = messages_body(PHONE, [msg("wamid.small-1", "x" * 2000)])
        big = messages_body(PHONE, [msg("wamid.big-1", "x" * 5000)])
        self.assertLess(len(small), 4096)
        self.assertEqual(self.post(big).status, 413)
        self.assertEqual(self.count("waba_ws_1"), 0)
        self.assertEqual(self.post(small).status, 200)
        self.assertEqual(self.count("waba_ws_1"), 1)


class Silence(WebhookBase):
    config = {"meta.webhook_silence_minutes": 60}

    def test_silent_webhooks_warning(self):
        b = self.connect("a@alpha.example", "alpha", PHONE)
        S = settings_path("alpha")
        r = post_form(b, S + "/test-message", {"to": "4915112345678"})
        self.assertEqual(r.status, 303)
        self.assertNotIn('id="webhooks-silent"', b.get(S).text)
        # Two hours later, still nothing from Meta.
        self.st.sql("UPDATE audit_log SET at = UTC_TIMESTAMP() - INTERVAL 2 "
                    "HOUR WHERE action = 'test_message'", db="waba_ws_1")
        page = b.get(S)
        self.assertIn('id="webhooks-silent"', page.text)
        self.assertIn("/webhooks/meta", page.text)
        # A delivery arrives: the warning goes away.
        self.send(kind="status", phone_number_id=PHONE, status="delivered")
        self.assertNotIn('id="webhooks-silent"', b.get(S).text)


def audits(st, db, like):
    return int(st.sql("SELECT COUNT(*) FROM audit_log WHERE action = "
                      "'account_update' AND detail LIKE '%s'" % like,
                      db=db).strip())


def status(st, slug):
    return json.loads(st.admin("status", slug, "--json").stdout)


class LateRedelivery(WebhookBase):
    """Issue 8.2: a removal first refused (503) and redelivered after the
    merchant connected again is older than the new token: audited, not
    applied. A newer one still is."""

    def test_old_removal_after_reconnect_is_audited_not_applied(self):
        b = self.connect("a@alpha.example", "alpha", PHONE)
        self.st.stop_mariadb()
        try:
            # Meta's token stays as it was: only the order matters here.
            r = self.send(kind="account_update", waba_id=WABA,
                          event="PARTNER_REMOVED", revoke_tokens=False)
            self.assertEqual(r["responses"], [503])
        finally:
            self.st.start_mariadb()
        time.sleep(1.1)     # entry.time has whole seconds
        # The merchant connects again (the number is kept)...
        cb = self.sb.decide(start_connect(b, "alpha"))
        self.assertEqual(b.get(cb).header("Location"),
                         settings_path("alpha") + "?m=reconnected")
        # ...then Meta redelivers the removal: stored, audited, not applied.
        body = json.dumps(r["bodies"][0], separators=(",", ":")).encode()
        self.assertEqual(self.post(body).status, 200)
        self.assertEqual(self.count("waba_ws_1", "kind = 'account_update'"),
                         1)
        self.assertEqual(status(self.st, "alpha")["status"], "connected")
        self.assertEqual(audits(self.st, "waba_ws_1",
                                "not applied, older than the connection "
                                "of % UTC: PARTNER_REMOVED"), 1)
        self.assertEqual(self.post(body).status, 200)   # and only once
        self.assertEqual(audits(self.st, "waba_ws_1", "not applied%"), 1)
        # A removal after the reconnect is applied.
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_REMOVED", when=int(time.time()) + 1)).status, 200)
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("removed this app", js["reason"])


class Restrictions(WebhookBase):
    """Issue 8.3: Verify proves the token, not that Meta lifted a
    restriction or ban; only Meta's word (a later account_update, or the
    end it gave passing) lifts it."""

    def setUp(self):
        super().setUp()
        # Each test starts with no restriction on record: the previous
        # test's events (some dated a second ahead) would otherwise
        # overtake this one's.
        self.st.sql("UPDATE connection SET restriction = NULL, "
                    "restriction_event = NULL, restriction_waba = NULL, "
                    "restriction_at = NULL, restriction_until = NULL",
                    db="waba_ws_1")

    def verify(self, b):
        r = post_form(b, settings_path("alpha") + "/verify", {})
        self.assertEqual(r.status, 303, r.text[:500])
        return r.header("Location")

    def test_ban_outlives_verify_until_reinstated(self):
        b = self.connect("a@alpha.example", "alpha", PHONE)
        t = int(time.time())
        self.assertEqual(self.post(account_update(
            WABA, "DISABLED_UPDATE", when=t, ban_info={
                "waba_ban_state": "DISABLE",
                "waba_ban_date": "December 1, 2026"})).status, 200)
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("Meta disabled", js["reason"])
        # The token is valid, but the ban stays, and the page says why.
        self.assertTrue(self.verify(b).endswith("?m=restricted"))
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("Meta disabled", js["reason"])
        self.assertIn("Meta still restricts",
                      b.get(settings_path("alpha") + "?m=restricted").text)
        # A reconnect proves no more than Verify.
        cb = self.sb.decide(start_connect(b, "alpha"))
        self.assertEqual(b.get(cb).header("Location"),
                         settings_path("alpha") + "?m=restricted")
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("Meta disabled", js["reason"])
        # Meta reinstates the account: connected again once the
        # monitor's next check passes (the lift made it due), not before.
        self.assertEqual(self.post(account_update(
            WABA, "DISABLED_UPDATE", when=t + 1, ban_info={
                "waba_ban_state": "REINSTATE",
                "waba_ban_date": "December 2, 2026"})).status, 200)
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("next health check", js["reason"])
        self.st.admin("monitor", "--once", "--workspace", "alpha")
        js = status(self.st, "alpha")
        self.assertEqual((js["status"], js["reason"]), ("connected", None))
        # A late redelivery of an older ban does not undo that.
        self.assertEqual(self.post(account_update(
            WABA, "DISABLED_UPDATE", when=t - 5, ban_info={
                "waba_ban_state": "DISABLE",
                "waba_ban_date": "November 30, 2026"})).status, 200)
        self.assertEqual(status(self.st, "alpha")["status"], "connected")
        self.assertEqual(audits(self.st, "waba_ws_1", "not applied, older "
                                "than the restriction update%"), 1)
        self.assertTrue(self.verify(b).endswith("?m=verified"))

    def test_restriction_outlives_verify_until_its_end(self):
        b = self.connect("a@alpha.example", "alpha", PHONE)
        # Long enough for the steps before the end to run on a loaded
        # machine.
        end = int(time.time()) + 8
        self.assertEqual(self.post(account_update(
            WABA, "ACCOUNT_RESTRICTION", restriction_info=[
                {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                 "expiration": end}])).status, 200)
        self.assertTrue(self.verify(b).endswith("?m=restricted"))
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("RESTRICTED_BIZ_INITIATED_MESSAGING", js["reason"])
        # A token-invalid reason is Verify's to clear, not the restriction.
        self.st.sql("UPDATE connection SET reason = 'token expired'",
                    db="waba_ws_1")
        self.assertTrue(self.verify(b).endswith("?m=restricted"))
        self.assertIn("RESTRICTED_BIZ_INITIATED_MESSAGING",
                      status(self.st, "alpha")["reason"])
        # The end Meta gave has passed: Verify may say so.
        time.sleep(max(0, end - time.time()) + 1.1)
        self.assertTrue(self.verify(b).endswith("?m=verified"))
        js = status(self.st, "alpha")
        self.assertEqual((js["status"], js["reason"]), ("connected", None))
        # Nothing of it is left behind.
        self.assertEqual(self.st.sql(
            "SELECT CONCAT_WS(',', restriction, restriction_event, "
            "restriction_waba, restriction_until) FROM connection",
            db="waba_ws_1").strip(), "")


    def test_open_ended_restriction_lifted_by_an_empty_list(self):
        b = self.connect("a@alpha.example", "alpha", PHONE)
        t = int(time.time())
        self.assertEqual(self.post(account_update(
            WABA, "ACCOUNT_RESTRICTION", when=t, restriction_info=[
                {"restriction_type": "RESTRICTED_CUSTOMER_INITIATED_"
                 "MESSAGING"}])).status, 200)
        # No end given: Verify keeps it however valid the token is.
        self.assertTrue(self.verify(b).endswith("?m=restricted"))
        self.assertEqual(status(self.st, "alpha")["status"],
                         "needs_reconnect")
        # An older "none" redelivered late does not lift the newer one.
        self.assertEqual(self.post(account_update(
            WABA, "ACCOUNT_RESTRICTION", when=t - 5,
            restriction_info=[])).status, 200)
        self.assertEqual(status(self.st, "alpha")["status"],
                         "needs_reconnect")
        # Meta lists no restriction left: lifted, and connected once
        # the monitor's next check passes.
        self.assertEqual(self.post(account_update(
            WABA, "ACCOUNT_RESTRICTION", when=t + 1,
            restriction_info=[])).status, 200)
        self.assertEqual(status(self.st, "alpha")["status"],
                         "needs_reconnect")
        self.st.admin("monitor", "--once", "--workspace", "alpha")
        js = status(self.st, "alpha")
        self.assertEqual((js["status"], js["reason"]), ("connected", None))
        self.assertTrue(self.verify(b).endswith("?m=verified"))

    def test_times_out_of_range_are_absent(self):
        # Past year 9999 DATE_ADD overflows: the delivery must not fail
        # for ever (Meta would redeliver it for days).
        b = self.connect("a@alpha.example", "alpha", PHONE)
        self.assertEqual(self.post(account_update(
            WABA, "ACCOUNT_RESTRICTION", when=10 ** 17, restriction_info=[
                {"restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                 "expiration": 10 ** 17}])).status, 200)
        js = status(self.st, "alpha")
        self.assertEqual(js["status"], "needs_reconnect")
        self.assertIn("RESTRICTED_ADD_PHONE_NUMBER_ACTION", js["reason"])
        self.assertTrue(self.verify(b).endswith("?m=restricted"))
        self.assertEqual(post_form(b, settings_path("alpha") + "/disconnect",
                                   {}).status, 303)


class RestrictionsSimultaneousAssignment(Restrictions):
    """The same, on a server whose sql_mode has SIMULTANEOUS_ASSIGNMENT:
    our UPDATEs read columns they assign earlier in the same SET, which
    only works left to right, so the app fixes its sessions' sql_mode."""

    @classmethod
    def setUpStack(cls):
        cls.st.sql("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, "
                   "',SIMULTANEOUS_ASSIGNMENT')")
        super().setUpStack()


class RoutesFollowRows(WebhookBase):
    """Issue 8.4: routes are what the connection rows say."""

    def routes(self):
        return self.st.sql("SELECT kind, external_id, workspace_id FROM "
                           "webhook_routes ORDER BY kind, external_id",
                           db="waba_control").split()

    def log_has(self, text, since):
        with open(self.st.path("pool.log")) as f:
            f.seek(since)
            return text in f.read()

    def log_size(self):
        import os
        return os.path.getsize(self.st.path("pool.log"))

    def test_another_waba_drops_the_old_number(self):
        b = self.connect("a@alpha.example", "alpha", PHONE,
                         scenario="two_wabas", waba=WABA)
        self.assertEqual(self.post(messages_body(
            PHONE, [msg("wamid.route-x-1", "for x")])).status, 200)
        self.assertEqual(self.count("waba_ws_1", "body = 'for x'"), 1)
        # Reconnect (the number is kept), then choose the other WABA.
        cb = self.sb.decide(start_connect(b, "alpha"), scenario="two_wabas")
        self.assertEqual(b.get(cb).status, 303)
        S = settings_path("alpha")
        page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "waba_id": WABA2})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.routes(), ["waba", WABA, "1",
                                         "waba", WABA2, "1"])
        # The abandoned number's messages no longer land here, though its
        # WABA still routes here for account_update.
        at = self.log_size()
        self.assertEqual(self.post(messages_body(
            PHONE, [msg("wamid.route-x-2", "after leaving x")])).status, 200)
        self.assertEqual(self.count("waba_ws_1", "body = 'after leaving x'"),
                         0)
        self.assertTrue(self.log_has("no workspace for number %s" % PHONE,
                                     at))
        page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": PHONE_EU,
                                          "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.routes(), ["phone", PHONE_EU, "1",
                                         "waba", WABA, "1",
                                         "waba", WABA2, "1"])
        self.assertEqual(self.post(messages_body(
            PHONE_EU, [msg("wamid.route-y-1", "for y")], waba=WABA2)).status,
            200)
        self.assertEqual(self.count("waba_ws_1", "body = 'for y'"), 1)
        self.assertEqual(post_form(b, S + "/disconnect", {}).status, 303)

    def test_granted_waba_yields_to_the_workspace_that_chooses_it(self):
        # Alpha is granted both WABAs and has chosen neither yet.
        a = sign_in(self.st.port, "a@alpha.example", PW)
        cb = self.sb.decide(start_connect(a, "alpha"), scenario="two_wabas")
        self.assertEqual(a.get(cb).status, 303)
        self.assertEqual(self.routes(), ["waba", WABA, "1",
                                         "waba", WABA2, "1"])
        # Beta is granted only the first, which so is its choice: the
        # route is beta's at once, before any number is chosen.
        bb = sign_in(self.st.port, "b@beta.example", PW)
        cb = self.sb.decide(start_connect(bb, "beta"))
        self.assertEqual(bb.get(cb).status, 303)
        self.assertEqual(self.routes(), ["waba", WABA, "2",
                                         "waba", WABA2, "1"])
        a0 = self.count("waba_ws_1", "kind = 'account_update'")
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_ADDED")).status, 200)
        self.assertEqual(self.count("waba_ws_2", "kind = 'account_update'"),
                         1)
        self.assertEqual(self.count("waba_ws_1", "kind = 'account_update'"),
                         a0)
        # Alpha connecting again, still undecided, takes nothing back.
        cb = self.sb.decide(start_connect(a, "alpha"), scenario="two_wabas")
        self.assertEqual(a.get(cb).status, 303)
        self.assertEqual(self.routes(), ["waba", WABA, "2",
                                         "waba", WABA2, "1"])
        S = settings_path("beta")
        page = bb.get(S + "/phone-numbers")
        r = bb.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                           "phone_number_id": PHONE,
                                           "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.routes(), ["phone", PHONE, "2",
                                         "waba", WABA, "2",
                                         "waba", WABA2, "1"])
        self.assertEqual(self.post(messages_body(
            PHONE, [msg("wamid.granted-1", "for beta")])).status, 200)
        self.assertEqual(self.count("waba_ws_2", "body = 'for beta'"), 1)
        self.assertEqual(self.count("waba_ws_1", "body = 'for beta'"), 0)
        # Beta lets the WABA go: at once it routes to alpha again, which
        # is still granted it, and alpha's account_update finds alpha.
        self.assertEqual(post_form(bb, S + "/disconnect", {}).status, 303)
        self.assertEqual(self.routes(), ["waba", WABA, "1",
                                         "waba", WABA2, "1"])
        a0 = self.count("waba_ws_1", "kind = 'account_update'")
        self.assertEqual(self.post(account_update(
            WABA, "PARTNER_ADDED")).status, 200)
        self.assertEqual(self.count("waba_ws_1", "kind = 'account_update'"),
                         a0 + 1)
        # Nobody is granted anything any more: no route is left.
        self.assertEqual(post_form(a, settings_path("alpha") +
                                   "/disconnect", {}).status, 303)
        self.assertEqual(self.routes(), [])
