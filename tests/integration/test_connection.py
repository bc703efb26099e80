"""Issue 4: the WhatsApp connection flow over HTTP, through lighttpd, the
pool, MariaDB and the Meta sandbox."""
import html
import json
import subprocess
import urllib.parse

from base import StackCase
from client import request
from meta import (PHONE, PHONE_EU, WABA, WABA2, Sandbox, csrf, post_form,
                  settings_path, sign_in, start_connect)

PW = "connection test password"
SLUG = "acme"
S = settings_path(SLUG)


class Connection(StackCase):
    workers = 2
    sandbox = True
    config = {"meta.timeout_ms": 1500, "meta.max_retries": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("workspace", "add", "other", "Other Co")
        cls.st.admin("user", "add", SLUG, "alice@acme.example", input=PW + "\n")
        cls.st.admin("user", "add", "other", "olga@other.example",
                     input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        r = post_form(self.b, S + "/disconnect", {})
        self.assertEqual(r.status, 303)
        r = post_form(self.b, S + "/catalog/disconnect", {})
        self.assertEqual(r.status, 303)

    # -- helpers -------------------------------------------------------
    def row(self):
        out = self.st.sql("SELECT status, IFNULL(waba_id,''), "
                          "IFNULL(phone_number_id,''), token_ct IS NOT NULL, "
                          "IFNULL(reason,'') FROM connection", db="waba_ws_1")
        return tuple(out.rstrip("\n").split("\t"))

    def status_json(self):
        return json.loads(self.st.admin("status", SLUG, "--json").stdout)

    def callback(self, **kw):
        dialog = start_connect(self.b, SLUG)
        return self.b.get(self.sb.decide(dialog, **kw))

    def connect(self, phone=PHONE, pin="123456"):
        r = self.callback()
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        page = self.b.get(S + "/phone-numbers")
        self.assertEqual(page.status, 200, page.text[:800])
        self.assertIn("+1 555 0100", page.text)
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": phone,
                                               "pin": pin})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "?m=connected")

    def waba_token(self):
        toks = [v["token"] for v in self.sb.state()["tokens"]
                if v.get("kind") == "user_long" and v.get("state") == "valid"]
        self.assertEqual(len(toks), 1)
        return toks[0]

    # -- the flow --------------------------------------------------------
    def test_dialog_url(self):
        loc = start_connect(self.b, SLUG)
        self.assertTrue(loc.startswith("http://127.0.0.1:%d/v25.0/dialog/oauth?"
                                       % self.st.sandbox_port), loc)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        self.assertEqual(q["client_id"], "1234567890123456")
        self.assertEqual(q["response_type"], "code")
        self.assertEqual(q["redirect_uri"],
                         self.st.base_url + "/oauth/meta/callback")
        self.assertEqual(q["scope"], "whatsapp_business_management,"
                         "whatsapp_business_messaging,business_management")
        self.assertRegex(q["state"], r"^[0-9a-f]{64}$")
        self.assertNotIn("config_id", q)

    def test_happy_path(self):
        self.connect()
        page = self.b.get(S + "?m=connected")
        self.assertIn("Connected", page.text)
        self.assertIn("+1 555 0100", page.text)
        self.assertIn("Demo Merchant", page.text)
        self.assertIn("WhatsApp is connected", page.text)
        self.assertEqual(self.row()[:4], ("connected", WABA, PHONE, "1"))
        st = self.sb.state()
        self.assertTrue(st["numbers"][PHONE]["registered"])
        self.assertTrue(st["wabas"][WABA]["subscribed_apps"])
        js = self.status_json()
        self.assertEqual(js["status"], "connected")
        self.assertEqual(js["waba_id"], WABA)
        self.assertEqual(js["phone_number_id"], PHONE)
        self.assertRegex(js["token_expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # Every Graph call carried the proof for the token it used.
        for q in self.sb.requests():
            if q["endpoint"] in ("dialog", "dialog_decide", "access_token",
                                 "exchange_token"):
                continue
            self.assertTrue(q["access_token"], q["endpoint"])
            self.assertEqual(q["appsecret_proof"],
                             self.sb.proof(q["access_token"]), q["endpoint"])
        self.assert_no_secret_in_urls()

    def assert_no_secret_in_urls(self):
        """No token or secret went in a URL (proxies and servers log
        those): access tokens in the Authorization header, the OAuth
        exchanges' client_secret, code and short-lived token in a POST
        body. Only debug_token's input_token stays in its query, as Meta
        documents that call."""
        reqs = [q for q in self.sb.requests()
                if q["endpoint"] not in ("dialog", "dialog_decide")]
        seen = {q["endpoint"] for q in reqs}
        self.assertLessEqual({"access_token", "exchange_token", "debug_token",
                              "phone_numbers", "register", "subscribed_apps"},
                             seen)
        secrets = [self.st.app_secret] + [
            t["token"] for t in self.sb.state()["tokens"]]
        for q in reqs:
            what = (q["endpoint"], sorted(q["query"]))
            self.assertFalse({"access_token", "client_secret", "code",
                              "fb_exchange_token"} & set(q["query"]), what)
            url = q["path"] + "?" + urllib.parse.urlencode(
                {k: v for k, v in q["query"].items()
                 if not (q["endpoint"] == "debug_token" and
                         k == "input_token")})
            for s in secrets:
                self.assertNotIn(s, url, what)
                self.assertNotIn(urllib.parse.quote(s, safe=""), url, what)
            if q["endpoint"] in ("access_token", "exchange_token"):
                self.assertEqual(q["method"], "POST", what)
                self.assertEqual(q["body"]["client_secret"],
                                 self.st.app_secret)
                self.assertIsNone(q["token_via"], what)
            else:
                self.assertEqual(q["token_via"], "header", what)
                self.assertEqual(q["authorization"],
                                 "Bearer " + q["access_token"], what)

    def test_test_message_reaches_sandbox(self):
        self.connect()
        r = post_form(self.b, S + "/test-message", {"to": "+4915112345678"})
        self.assertEqual(r.status, 303, r.text[:800])
        msgs = self.sb.requests("messages")
        self.assertEqual(len(msgs), 1)
        tok = self.waba_token()
        self.assertEqual(msgs[0]["access_token"], tok)
        self.assertEqual(msgs[0]["appsecret_proof"], self.sb.proof(tok))
        self.assertEqual(msgs[0]["token_via"], "header")
        self.assertNotIn("access_token", msgs[0]["query"])
        body = msgs[0]["body"]
        self.assertEqual(body["to"], "4915112345678")
        self.assertEqual(body["type"], "text")
        page = self.b.get(S + "?m=test_sent")
        self.assertIn("Test message sent", page.text)
        wamid = self.sb.state()["messages"][-1]["id"]
        self.assertIn(wamid, html.unescape(page.text))
        # Bad recipients are refused before Meta is asked.
        r = post_form(self.b, S + "/test-message", {"to": "12ab"})
        self.assertEqual(r.status, 400)
        self.assertEqual(len(self.sb.requests("messages")), 1)

    def test_test_message_error_is_shown_exactly(self):
        self.connect()
        self.sb.inject("messages", "429", count=5, fbtrace_id="TraceRate429")
        r = post_form(self.b, S + "/test-message", {"to": "4915112345678"})
        self.assertEqual(r.status, 502)
        self.assertIn("limiting requests", r.text)
        # Meta's own words, code and reference, not only ours.
        text = html.unescape(r.text)
        self.assertIn('"(#130429) Rate limit hit" Cloud API message '
                      'throughput has been reached. (code 130429/2494055)',
                      text)
        self.assertIn("<code>TraceRate429</code>", r.text)
        self.assertEqual(self.row()[0], "connected")
        # A failure Meta does not retry: its exact text too.
        self.sb.clear_injections()
        self.sb.inject("messages", "131047")
        r = post_form(self.b, S + "/test-message", {"to": "4915112345678"})
        self.assertEqual(r.status, 502)
        text = html.unescape(r.text)
        self.assertIn("Meta refused sending the test message.", text)
        self.assertIn('"(#131047) Re-engagement message" Message failed to '
                      'send because more than 24 hours have passed since the '
                      'customer last replied to this number. (code 131047)',
                      text)
        # 130429 was retried once (max_retries 1), 131047 never.
        self.assertEqual(len(self.sb.requests("messages")), 3)
        self.assertEqual(self.row()[0], "connected")

    def test_state_replayed_is_refused(self):
        dialog = start_connect(self.b, SLUG)
        cb = self.sb.decide(dialog)
        self.assertEqual(self.b.get(cb).status, 303)
        before = self.row()
        r = self.b.get(cb)
        self.assertEqual(r.status, 400)
        self.assertIn("already used", r.text)
        self.assertEqual(self.row(), before)

    def test_state_expired_is_refused(self):
        dialog = start_connect(self.b, SLUG)
        cb = self.sb.decide(dialog)
        self.st.sql("UPDATE oauth_states SET expires_at = UTC_TIMESTAMP() - "
                    "INTERVAL 1 SECOND", db="waba_control")
        r = self.b.get(cb)
        self.assertEqual(r.status, 400)
        self.assertEqual(self.row()[0], "not_connected")

    def test_state_from_another_session_is_refused(self):
        dialog = start_connect(self.b, SLUG)
        cb = self.sb.decide(dialog)
        other = sign_in(self.port, "alice@acme.example", PW)
        r = other.get(cb)
        self.assertEqual(r.status, 400)
        self.assertEqual(self.row()[0], "not_connected")
        # ...and it is spent: the right session cannot use it afterwards.
        self.assertEqual(self.b.get(cb).status, 400)

    def test_state_malformed(self):
        for q in ("", "?state=zz&code=x", "?state=" + "0" * 64 + "&code=x"):
            r = self.b.get("/oauth/meta/callback" + q)
            self.assertEqual(r.status, 400, q)

    def test_other_dialog_errors_are_not_a_cancel(self):
        loc = start_connect(self.b, SLUG)
        state = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(loc).query))["state"]
        r = self.b.get("/oauth/meta/callback?" + urllib.parse.urlencode({
            "state": state, "error": "server_error", "error_code": "2",
            "error_description": "Temporarily <b>unavailable</b>"}))
        self.assertEqual(r.status, 502)
        self.assertNotIn("You cancelled", r.text)
        self.assertIn("Meta could not complete the connection", r.text)
        self.assertIn("Temporarily &lt;b&gt;unavailable&lt;/b&gt;", r.text)
        self.assertNotIn("<b>unavailable", r.text)
        self.assertEqual(self.row()[0], "not_connected")
        self.assertEqual(self.sb.requests("access_token"), [])

    def test_access_denied(self):
        r = self.callback(decision="cancel")
        self.assertEqual(r.status, 200)
        self.assertIn("You cancelled connecting", r.text)
        self.assertEqual(self.row()[0], "not_connected")
        self.assertEqual(self.sb.requests("access_token"), [])

    def assert_nothing_stored(self, r, status_before="not_connected"):
        self.assertIn(r.status, (400, 502, 504), r.text[:500])
        self.assertIn("Nothing was changed", r.text)
        self.assertEqual(self.row()[0], status_before)
        if status_before == "not_connected":
            self.assertEqual(self.row()[3], "0")

    def test_callback_failures_store_nothing(self):
        cases = [("access_token", "190"), ("access_token", "500"),
                 ("exchange_token", "190"), ("exchange_token", "500"),
                 ("debug_token", "190"), ("debug_token", "500"),
                 ("debug_token", "badjson"), ("access_token", "timeout"),
                 ("exchange_token", "timeout"), ("debug_token", "timeout")]
        for endpoint, error in cases:
            with self.subTest(endpoint=endpoint, error=error):
                self.sb.clear_injections()
                self.sb.inject(endpoint, error, count=5, delay=4)
                r = self.callback()
                self.assert_nothing_stored(r)
                if error == "timeout":
                    self.assertEqual(r.status, 504)
                    self.assertIn("did not answer in time", r.text)
                if error == "190":
                    self.assertIn("Reconnect", r.text)
        self.sb.clear_injections()

    def test_429_then_success(self):
        self.sb.inject("exchange_token", "429", count=1)
        self.sb.inject("phone_numbers", "429", count=1)
        self.connect()
        self.assertEqual(self.row()[0], "connected")
        self.assertEqual(len(self.sb.requests("exchange_token")), 2)

    def test_selection_failures_store_nothing(self):
        r = self.callback()
        self.assertEqual(r.status, 303)
        before = self.row()
        self.assertEqual(before[0], "pending_phone_selection")
        page = self.b.get(S + "/phone-numbers")
        for endpoint, error in (("register", "500"), ("subscribed_apps", "500"),
                                ("register", "timeout"),
                                ("subscribed_apps", "429"),
                                ("phone_numbers", "badjson")):
            with self.subTest(endpoint=endpoint, error=error):
                self.sb.clear_injections()
                self.sb.inject(endpoint, error, count=5, delay=4)
                r = self.b.post(S + "/phone-numbers", {
                    "csrf_token": csrf(page), "phone_number_id": PHONE,
                    "pin": "123456"})
                self.assertIn(r.status, (502, 504), r.text[:500])
                self.assertEqual(self.row(), before)
        self.sb.clear_injections()
        # 190 while selecting: the stored token is dead → needs_reconnect.
        self.sb.inject("register", "190", subcode=460)
        r = self.b.post(S + "/phone-numbers", {
            "csrf_token": csrf(page), "phone_number_id": PHONE, "pin": "123456"})
        self.assertEqual(r.status, 502)
        self.assertEqual(self.row()[0], "needs_reconnect")
        self.assertIn("password", self.row()[4])

    def test_bad_phone_input(self):
        self.assertEqual(self.callback().status, 303)
        page = self.b.get(S + "/phone-numbers")
        for fields in ({"phone_number_id": PHONE, "pin": "12345"},
                       {"phone_number_id": PHONE, "pin": "abcdef"},
                       {"phone_number_id": PHONE},
                       {"phone_number_id": PHONE_EU, "pin": "123456"},
                       {"phone_number_id": "1; DROP", "pin": "123456"}):
            fields = dict(fields, csrf_token=csrf(page))
            r = self.b.post(S + "/phone-numbers", fields)
            self.assertEqual(r.status, 400, fields)
        self.assertEqual(self.row()[0], "pending_phone_selection")
        self.assertEqual(self.sb.requests("register"), [])

    def test_wrong_pin(self):
        self.sb.config(pins={PHONE: "654321"})
        self.assertEqual(self.callback().status, 303)
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.status, 400)
        self.assertIn("PIN is not right", r.text)
        self.assertEqual(self.row()[0], "pending_phone_selection")

    def test_two_wabas_let_the_merchant_choose(self):
        r = self.callback(scenario="two_wabas")
        self.assertEqual(r.status, 303)
        page = self.b.get(S + "/phone-numbers")
        self.assertIn("Choose a business account", page.text)
        self.assertIn(WABA2, page.text)
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "waba_id": "999"})
        self.assertEqual(r.status, 400)
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "waba_id": WABA2})
        self.assertEqual(r.status, 303)
        page = self.b.get(S + "/phone-numbers")
        self.assertIn("+1 555 0102", page.text)
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE_EU,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.row()[:3], ("connected", WABA2, PHONE_EU))

    def test_revoke_verify_reconnect_keeps_number(self):
        self.connect()
        self.sb.call("POST", "/_sandbox/tokens/revoke", {"all": True})
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 303)
        page = self.b.get(S)
        self.assertIn("Needs reconnect", page.text)
        self.assertIn("password", page.text)
        self.assertIn('id="reconnect-banner"', page.text)
        self.assertEqual(self.status_json()["status"], "needs_reconnect")
        # Reconnect: the same flow, and the number is kept.
        r = self.callback()
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), S + "?m=reconnected")
        self.assertEqual(self.row()[:3], ("connected", WABA, PHONE))
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(self.b.get(S).text.count("Needs reconnect"), 0)

    def routes(self):
        return self.st.sql("SELECT kind, external_id, workspace_id FROM "
                           "webhook_routes ORDER BY kind, external_id",
                           db="waba_control").strip()

    def test_reconnect_after_partner_removed_subscribes_again(self):
        self.connect()
        self.assertEqual(self.routes(), "phone\t%s\t1\nwaba\t%s\t1"
                         % (PHONE, WABA))
        # The business removes the app: Meta unsubscribes it and cuts off
        # its token, and says so with PARTNER_REMOVED.
        out = self.sb.call("POST", "/_sandbox/webhook", {
            "kind": "account_update", "waba_id": WABA,
            "event": "PARTNER_REMOVED"})
        self.assertEqual(out["responses"], [200])
        self.assertEqual(self.sb.state()["wabas"][WABA]["subscribed_apps"], {})
        self.assertEqual(self.row()[0], "needs_reconnect")
        # Unsubscribed, Meta sends nothing more for the number.
        self.assertEqual(self.sb.call("POST", "/_sandbox/webhook", {
            "kind": "message", "phone_number_id": PHONE})["sent"], 0)
        before = (self.row(), self.routes())
        # A reconnect whose subscribe fails stores nothing.
        self.sb.inject("subscribed_apps", "500", count=5)
        r = self.callback()
        self.assertEqual(r.status, 502, r.text[:800])
        self.assertIn("subscribing", r.text)
        self.assertEqual((self.row(), self.routes()), before)
        self.sb.clear_injections()
        # The reconnect that works keeps the number and subscribes again.
        r = self.callback()
        self.assertEqual(r.header("Location"), S + "?m=reconnected")
        self.assertEqual(self.row()[:3], ("connected", WABA, PHONE))
        self.assertIn("1234567890123456",
                      self.sb.state()["wabas"][WABA]["subscribed_apps"])
        self.assertEqual(self.routes(), "phone\t%s\t1\nwaba\t%s\t1"
                         % (PHONE, WABA))
        out = self.sb.call("POST", "/_sandbox/webhook", {
            "kind": "message", "phone_number_id": PHONE, "text": "back"})
        self.assertEqual(out["responses"], [200])

    def test_reconnect_to_another_waba_replaces_routes(self):
        # Connected on the second WABA's number...
        r = self.callback(scenario="two_wabas")
        self.assertEqual(r.status, 303)
        # Both granted WABAs route here before a number is chosen, so
        # account_update (PARTNER_ADDED...) finds the workspace.
        self.assertEqual(self.routes(), "waba\t%s\t1\nwaba\t%s\t1"
                         % (WABA, WABA2))
        page = self.b.get(S + "/phone-numbers")
        self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                           "waba_id": WABA2})
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE_EU,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303)
        # The row still grants the first WABA, unchosen: its route stays
        # (no other workspace chose it), as after a reconnect.
        self.assertEqual(self.routes(), "phone\t%s\t1\nwaba\t%s\t1\n"
                         "waba\t%s\t1" % (PHONE_EU, WABA, WABA2))
        # ...reconnects granting only the first: nothing of the old stays.
        r = self.callback()
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        self.assertEqual(self.row()[:3], ("pending_phone_selection", WABA, ""))
        self.assertEqual(self.routes(), "waba\t%s\t1" % WABA)
        # A reconnect that keeps the number keeps its route.
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303)
        r = self.callback(scenario="two_wabas")
        self.assertEqual(r.header("Location"), S + "?m=reconnected")
        self.assertEqual(self.routes(), "phone\t%s\t1\nwaba\t%s\t1\n"
                         "waba\t%s\t1" % (PHONE, WABA, WABA2))

    def test_verify_app_token_refused_is_not_the_merchants(self):
        self.connect()
        before = self.row()
        self.sb.inject("debug_token", "190", subcode=0)
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 502)
        self.assertIn("app configuration", r.text)
        self.assertEqual(self.row(), before)
        self.assertEqual(self.status_json()["status"], "connected")

    def test_verify_waba_no_longer_shared(self):
        self.connect()
        self.sb.call("POST", "/_sandbox/tokens/unshare",
                     {"all": True, "waba_id": WABA})
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 303)
        row = self.row()
        self.assertEqual(row[0], "needs_reconnect")
        self.assertIn("no longer has access to the WhatsApp Business "
                      "Account " + WABA, row[4])
        self.assertIn("no longer has access", self.b.get(S).text)

    def test_expired_token_needs_reconnect(self):
        self.connect()
        self.sb.call("POST", "/_sandbox/tokens/expire", {"all": True})
        # Any call: the test message gets 190/463...
        r = post_form(self.b, S + "/test-message", {"to": "4915112345678"})
        self.assertEqual(r.status, 502)
        self.assertIn("Reconnect", r.text)
        self.assertEqual(self.row()[0], "needs_reconnect")
        self.assertEqual(self.row()[4], "the access token expired")
        # ...and Verify reads it from debug_token's data.error.
        self.st.sql("UPDATE connection SET status = 'connected', reason = "
                    "NULL", db="waba_ws_1")
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), S + "?m=needs_reconnect")
        self.assertEqual(self.row()[0], "needs_reconnect")
        self.assertEqual(self.row()[4], "the access token expired")
        self.assertIn("expired", self.b.get(S).text)

    def test_verify_updates_last_verified(self):
        self.connect()
        self.st.sql("UPDATE connection SET last_verified_at = '2020-01-01', "
                    "quality_rating = 'RED'", db="waba_ws_1")
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 303)
        page = self.b.get(S)
        self.assertNotIn("2020-01-01", page.text)
        self.assertIn("GREEN", page.text)

    def test_expiry_warning(self):
        self.connect()
        self.st.sql("UPDATE connection SET token_expires_at = UTC_TIMESTAMP() "
                    "+ INTERVAL 2 DAY", db="waba_ws_1")
        page = self.b.get(S)
        self.assertIn('id="expiry-warning"', page.text)
        self.st.sql("UPDATE connection SET token_expires_at = UTC_TIMESTAMP() "
                    "+ INTERVAL 30 DAY", db="waba_ws_1")
        self.assertNotIn('id="expiry-warning"', self.b.get(S).text)

    def test_catalog(self):
        cat = self.sb.call("POST", "/_sandbox/catalogs",
                           {"catalog_id": "770011", "name": "Spring <Range>"})
        r = post_form(self.b, S + "/catalog", {"catalog_id": "770011",
                                               "catalog_token": "EAAGwrong"})
        self.assertEqual(r.status, 400)
        self.assertIn("did not accept", r.text)
        self.assertNotIn("EAAGwrong", r.text)
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM catalog",
                                     db="waba_ws_1").strip(), "0")
        r = post_form(self.b, S + "/catalog", {"catalog_id": "77x",
                                               "catalog_token": cat["token"]})
        self.assertEqual(r.status, 400)
        r = post_form(self.b, S + "/catalog", {"catalog_id": "770011",
                                               "catalog_token": cat["token"]})
        self.assertEqual(r.status, 303)
        page = self.b.get(S)
        self.assertIn("Spring &lt;Range&gt;", page.text)
        self.assertNotIn(cat["token"], page.text)
        js = self.status_json()
        self.assertEqual(js["catalog"], {"catalog_id": "770011",
                                         "status": "connected", "reason": None})
        # Meta revokes the catalog token: Verify notices and says so.
        self.connect()
        self.sb.call("POST", "/_sandbox/tokens/revoke",
                     {"token": cat["token"], "subcode": 458})
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.status_json()["catalog"]["status"],
                         "needs_reconnect")
        self.assertEqual(self.row()[0], "connected")
        r = post_form(self.b, S + "/catalog/disconnect", {})
        self.assertEqual(r.status, 303)
        self.assertIn('id="catalog-connect"', self.b.get(S).text)

    def routes_table_gone(self, gone):
        """Makes the routing table fail (as a control server in trouble
        would) while the workspace's own database answers."""
        a, b = ("webhook_routes", "webhook_routes_away") if gone else \
            ("webhook_routes_away", "webhook_routes")
        self.st.sql("RENAME TABLE %s TO %s" % (a, b), db="waba_control")

    def route_writes_fail(self, fail):
        """Makes writing routes fail while they can still be read: the
        number is registered, then its route cannot be stored."""
        if fail:
            self.st.sql("CREATE TRIGGER routes_refuse BEFORE INSERT ON "
                        "webhook_routes FOR EACH ROW SIGNAL SQLSTATE '45000' "
                        "SET MESSAGE_TEXT = 'routes refused'", db="waba_control")
        else:
            self.st.sql("DROP TRIGGER IF EXISTS routes_refuse", db="waba_control")

    def test_route_failures_are_said_and_heal(self):
        r = self.callback()
        self.assertEqual(r.status, 303)
        page = self.b.get(S + "/phone-numbers")
        # Routes that cannot even be read: refused before Meta is asked.
        self.routes_table_gone(True)
        try:
            r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                                   "phone_number_id": PHONE,
                                                   "pin": "123456"})
        finally:
            self.routes_table_gone(False)
        self.assertEqual(r.status, 503)
        self.assertIn("nothing was changed", r.text)
        self.assertEqual(self.sb.requests("register"), [])
        self.route_writes_fail(True)
        try:
            r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                                   "phone_number_id": PHONE,
                                                   "pin": "123456"})
        finally:
            self.route_writes_fail(False)
        self.assertEqual(r.status, 503)
        self.assertIn("add the number again", r.text)
        # Choosing it again completes what the failure left undone.
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.st.sql(
            "SELECT kind, external_id FROM webhook_routes ORDER BY kind",
            db="waba_control").split(), ["phone", PHONE, "waba", WABA])
        # Disconnect clears the routes first: when that fails, nothing
        # at all has changed.
        self.routes_table_gone(True)
        try:
            r = post_form(self.b, S + "/disconnect", {})
        finally:
            self.routes_table_gone(False)
        self.assertEqual(r.status, 503)
        self.assertEqual(self.row()[:3], ("connected", WABA, PHONE))
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM webhook_routes",
                                     db="waba_control").strip(), "0")

    def test_disconnect_forgets_everything(self):
        self.connect()
        r = post_form(self.b, S + "/disconnect", {})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.row(), ("not_connected", "", "", "0", ""))
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM webhook_routes",
                                     db="waba_control").strip(), "0")

    def test_other_workspace_and_csrf_on_every_route(self):
        olga = sign_in(self.port, "olga@other.example", PW)
        tok = csrf(olga.get(settings_path("other")))
        posts = ["/connect", "/phone-numbers", "/catalog", "/catalog/disconnect",
                 "/verify", "/test-message", "/disconnect"]
        for p in posts:
            r = olga.post(S + p, {"csrf_token": tok})
            self.assertEqual(r.status, 404, p)
        for p in ("", "/phone-numbers"):
            self.assertEqual(olga.get(S + p).status, 404, p)
        for p in posts:
            r = self.b.post(S + p, {"csrf_token": "f" * 64})
            self.assertEqual(r.status, 403, p)
            r = self.b.post(S + p, {})
            self.assertEqual(r.status, 403, p)
        self.assertEqual(self.sb.requests("dialog"), [])

    def snapshot(self):
        """Every row a POST could change, as checksums and counts."""
        ws = self.st.sql("CHECKSUM TABLE connection, phone_numbers, catalog, "
                         "audit_log, webhook_events EXTENDED", db="waba_ws_1")
        ctl = self.st.sql("CHECKSUM TABLE oauth_states, webhook_routes, users, "
                          "memberships EXTENDED; SELECT COUNT(*), "
                          "GROUP_CONCAT(HEX(id_hash), csrf_token ORDER BY "
                          "id_hash) FROM sessions", db="waba_control")
        audit = self.st.sql("SELECT id, action, IFNULL(detail, '') FROM "
                            "audit_log ORDER BY id", db="waba_ws_1")
        return ws, ctl, audit, len(self.sb.requests())

    def test_csrf_refusals_change_nothing(self):
        # A workspace with state: connected, a number, a stored catalog
        # token; every route then has something it could change.
        self.connect()
        r = self.st.admin("token", "set", SLUG, "catalog", "--catalog-id",
                          "880022", input="EAACcsrf" + "x" * 40 + "\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.row()[:4], ("connected", WABA, PHONE, "1"))
        own = csrf(self.b.get(S))
        # A valid token, but of another user's session.
        olga = sign_in(self.port, "olga@other.example", PW)
        theirs = csrf(olga.get(settings_path("other")))
        self.assertNotEqual(own, theirs)
        forms = {"/connect": {}, "/verify": {}, "/disconnect": {},
                 "/catalog/disconnect": {},
                 "/test-message": {"to": "4915112345678"},
                 "/catalog": {"catalog_id": "770011",
                              "catalog_token": "EAAGnew"},
                 "/phone-numbers": {"phone_number_id": PHONE,
                                    "pin": "123456"}}
        before = self.snapshot()
        for path, fields in sorted(forms.items()) + [("/logout", {})]:
            url = path if path == "/logout" else S + path
            for label, tok in (("none", None), ("wrong", "0" * 64),
                               ("other session", theirs),
                               ("own, altered", own[:-1] + (
                                   "0" if own[-1] != "0" else "1"))):
                with self.subTest(path=path, token=label):
                    data = dict(fields)
                    if tok is not None:
                        data["csrf_token"] = tok
                    r = self.b.post(url, data)
                    self.assertEqual(r.status, 403, r.text[:300])
                    self.assertEqual(self.snapshot(), before)
        # Still signed in and connected; the right token still works.
        self.assertEqual(self.b.get(S).status, 200)
        self.assertEqual(self.row()[:4], ("connected", WABA, PHONE, "1"))
        r = self.b.post(S + "/verify", {"csrf_token": own})
        self.assertEqual(r.status, 303)

    def test_secrets_stay_out_of_pages_and_logs(self):
        pin = "864209"
        cb = self.sb.decide(start_connect(self.b, SLUG))
        code = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(cb).query))["code"]
        self.assertEqual(self.b.get(cb).status, 303)
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": pin})
        self.assertEqual(r.status, 303, r.text[:500])
        cat = self.sb.call("POST", "/_sandbox/catalogs", {})
        r = post_form(self.b, S + "/catalog", {
            "catalog_id": cat["catalog_id"], "catalog_token": cat["token"]})
        self.assertEqual(r.status, 303)
        post_form(self.b, S + "/test-message", {"to": "4915112345678"})
        post_form(self.b, S + "/verify", {})
        tok = self.waba_token()
        for path in (S, S + "/phone-numbers"):
            text = self.b.get(path).text
            self.assertNotIn(tok, text)
            self.assertNotIn(cat["token"], text)
        for name in ("pool.log", "lighttpd-error.log", "lighttpd.log"):
            try:
                with open(self.st.path(name), errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            self.assertNotIn(tok, text, name)
            self.assertNotIn(self.st.app_secret, text, name)
            self.assertNotIn(cat["token"], text, name)
            self.assertNotIn(code, text, name)
            self.assertNotIn(pin, text, name)
        dump = subprocess.run(["mariadb-dump", "--no-defaults", "-uroot",
                               "--socket=" + self.st.db_socket,
                               "--all-databases"], capture_output=True,
                              text=True, errors="replace").stdout
        self.assertIn("connection", dump)
        self.assertNotIn(tok, dump)
