"""Issue 10, item 3: the Embedded Signup v4 popup's end, over HTTP through
lighttpd, the pool, MariaDB and the Meta sandbox (its JS SDK stand-in's
dialog issues the codes, bound to no redirect_uri like FB.login's).

POST /w/{slug}/settings/whatsapp/embedded-signup takes the single-use state
of the redirect flow (fetched with popup=1), exchanges the code exactly as
the callback does, and trusts the popup's session info only where
debug_token grants it. Every refusal here must leave the connection row,
the sandbox's tokens and the stored states as they were."""
import json
import re
import urllib.parse

from base import StackCase
from client import request
from meta import (PHONE, PHONE2, PHONE_EU, WABA, WABA2, Sandbox, csrf,
                  post_form, settings_path, sign_in)

PW = "embedded signup test password"
SLUG = "acme"
S = settings_path(SLUG)
CONFIG_ID = "778899001122334"
APP_ID = "1234567890123456"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class EmbeddedSignup(StackCase):
    workers = 2
    sandbox = True
    config = {"meta.config_id": CONFIG_ID, "meta.timeout_ms": 1500,
              "meta.max_retries": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("workspace", "add", "beta", "Beta Co")
        cls.st.admin("user", "add", SLUG, "alice@acme.example",
                     input=PW + "\n")
        # Alice is a member of beta too: a state made there must still
        # not connect acme.
        cls.st.admin("user", "add", "beta", "alice@acme.example",
                     input=PW + "\n", check=False)

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        for slug in (SLUG, "beta"):
            r = post_form(self.b, settings_path(slug) + "/disconnect", {})
            self.assertEqual(r.status, 303)
        self.sb.reset()
        # Each test counts the states it makes.
        self.st.sql("DELETE FROM oauth_states", db="waba_control")

    # -- helpers -------------------------------------------------------
    def row(self, db="waba_ws_1"):
        out = self.st.sql("SELECT status, IFNULL(waba_id,''), "
                          "IFNULL(phone_number_id,''), token_ct IS NOT NULL "
                          "FROM connection", db=db)
        return tuple(out.rstrip("\n").split("\t"))

    def states(self):
        return int(self.st.sql("SELECT COUNT(*) FROM oauth_states",
                               db="waba_control").strip())

    def exchanges(self):
        return [r for r in self.sb.requests("access_token")]

    def popup_state(self, b=None, slug=SLUG):
        """What embedded_signup.js does before it posts: a state as JSON."""
        b = b or self.b
        page = b.get(settings_path(slug))
        r = b.post(settings_path(slug) + "/connect",
                   {"csrf_token": csrf(page), "popup": "1"})
        self.assertEqual(r.status, 200, r.text[:500])
        self.assertTrue(r.header("Content-Type").startswith(
            "application/json"), r.header("Content-Type"))
        state = json.loads(r.text)["state"]
        self.assertRegex(state, HEX64)
        return state

    def sdk_login(self, outcome="finish", **kw):
        """Plays the merchant in the SDK stand-in's popup; returns the
        session event it would post and FB.login's response."""
        q = {"client_id": APP_ID, "config_id": CONFIG_ID,
             "response_type": "code",
             "override_default_response_type": "true",
             "extras": json.dumps({"setup": {}, "featureType": "",
                                   "sessionInfoVersion": "3"}),
             "origin": "http://127.0.0.1:%d" % self.port,
             "outcome": outcome}
        q.update(kw)
        r = request(self.st.sandbox_port, "GET",
                    "/v25.0/dialog/embedded_signup/decide?"
                    + urllib.parse.urlencode(q))
        self.assertEqual(r.status, 200, r.text[:500])
        m = re.search(r'<script type="application/json" id="es-result">'
                      r'(.*?)</script>', r.text, re.S)
        self.assertIsNotNone(m, r.text[:500])
        blob = json.loads(m.group(1))
        return blob["session"], blob["login"]

    def finish(self, state=None, b=None, slug=SLUG, outcome="finish",
               fields=None, **kw):
        """The popup's post, as embedded_signup.js makes it."""
        b = b or self.b
        session, login = self.sdk_login(outcome, **kw)
        form = {"code": login["authResponse"]["code"],
                "state": state or self.popup_state(b, slug)}
        for k in ("waba_id", "phone_number_id", "business_id"):
            if session["data"].get(k):
                form[k] = session["data"][k]
        form.update(fields or {})
        form = {k: v for k, v in form.items() if v is not None}
        page = b.get(settings_path(slug))
        form["csrf_token"] = csrf(page)
        return b.post(settings_path(slug) + "/embedded-signup", form)

    def pool_log(self):
        with open(self.st.path("pool.log"), errors="replace") as f:
            return f.read()

    def assert_unchanged(self, before, states=None):
        self.assertEqual(self.row(), before)
        self.assertEqual(self.row("waba_ws_2"), ("not_connected", "", "",
                                                 "0"))
        if states is not None:
            self.assertEqual(self.states(), states)

    # -- the page ------------------------------------------------------
    def test_settings_page_loads_the_sdk_and_no_inline_script(self):
        r = self.b.get(S)
        self.assertEqual(r.status, 200)
        sandbox = "http://127.0.0.1:%d" % self.st.sandbox_port
        csp = r.header("Content-Security-Policy")
        self.assertIn("script-src 'self' %s;" % sandbox, csp)
        self.assertIn("connect-src 'self' %s;" % sandbox, csp)
        self.assertIn("frame-src %s %s;" % (sandbox, sandbox), csp)
        self.assertIn("default-src 'none'", csp)
        # The Connect form still posts to /connect (no JS: redirect flow).
        form = re.search(r'<form method="post" action="([^"]+)"[^>]*'
                         r'id="connect-form"([^>]*)>', r.text)
        self.assertIsNotNone(form, r.text)
        self.assertEqual(form.group(1), S + "/connect")
        self.assertIn('data-config-id="%s"' % CONFIG_ID, form.group(2))
        self.assertIn('data-sdk-url="%s/sdk.js"' % sandbox, form.group(2))
        self.assertIn('data-signup-action="%s/embedded-signup"' % S,
                      form.group(2))
        self.assertIn('<script src="/static/embedded_signup.js" defer>'
                      '</script>', r.text)
        # Every script is a file: none inline, no handler attributes.
        self.assertEqual(re.findall(r"<script(?![^>]*\bsrc=)", r.text), [])
        self.assertNotRegex(r.text, r"\son[a-z]+=")
        # The script itself is served as JavaScript.
        js = request(self.port, "GET", "/static/embedded_signup.js")
        self.assertEqual(js.status, 200)
        self.assertIn("javascript", js.header("Content-Type"))
        self.assertIn("WA_EMBEDDED_SIGNUP", js.text)

    def test_other_pages_keep_no_script(self):
        for path in (S + "/phone-numbers", "/login", "/nowhere"):
            r = self.b.get(path)
            csp = r.header("Content-Security-Policy")
            self.assertNotIn("script-src", csp, path)
            self.assertNotIn(str(self.st.sandbox_port), csp.split(
                "form-action")[0], path)

    def test_popup_state_needs_csrf(self):
        n = self.states()
        r = self.b.post(S + "/connect", {"popup": "1"})
        self.assertEqual(r.status, 403)
        r = self.b.post(S + "/connect", {"popup": "2",
                                         "csrf_token": csrf(self.b.get(S))})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.states(), n)
        self.popup_state()
        self.assertEqual(self.states(), n + 1)

    # -- the popup's post ----------------------------------------------
    def test_finish_with_number_preselects_it(self):
        r = self.finish(phone_number_id=PHONE2)
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"),
                         S + "/phone-numbers?phone_number_id=" + PHONE2)
        self.assertEqual(self.row(), ("pending_phone_selection", WABA, "",
                                      "1"))
        # Exchanged like the callback's code, but without redirect_uri.
        ex = self.exchanges()
        self.assertEqual(len(ex), 1)
        self.assertNotIn("redirect_uri", json.dumps(ex[0]))
        self.assertEqual(self.states(), 0)
        page = self.b.get(r.header("Location"))
        self.assertEqual(page.status, 200)
        self.assertRegex(page.text, r'value="%s" id="n%s" required checked'
                         % (PHONE2, PHONE2))
        self.assertNotRegex(page.text, r'value="%s" id="n%s" required '
                            r'checked' % (PHONE, PHONE))
        # The PIN registers it, as after the redirect.
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE2,
                                               "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "?m=connected")
        self.assertEqual(self.row(), ("connected", WABA, PHONE2, "1"))

    def test_reconnect_by_popup(self):
        r = self.finish(phone_number_id=PHONE)
        page = self.b.get(r.header("Location"))
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": PHONE,
                                               "pin": "123456"})
        self.assertEqual(self.row(), ("connected", WABA, PHONE, "1"))
        # The same number again: kept, as a redirect reconnect keeps it.
        r = self.finish(phone_number_id=PHONE)
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "?m=reconnected")
        self.assertEqual(self.row(), ("connected", WABA, PHONE, "1"))
        # Another number chosen in the popup: that one is what the
        # merchant wants now, preselected and waiting for its PIN.
        r = self.finish(phone_number_id=PHONE2)
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"),
                         S + "/phone-numbers?phone_number_id=" + PHONE2)
        self.assertEqual(self.row(), ("pending_phone_selection", WABA, "",
                                      "1"))

    def test_finish_only_waba_waits_for_a_number(self):
        r = self.finish(outcome="finish_only_waba", waba_id=WABA)
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        self.assertEqual(self.row(), ("pending_phone_selection", WABA, "",
                                      "1"))
        page = self.b.get(S)
        self.assertIn('id="choose-number"', page.text)

    def test_two_wabas_the_popups_granted_one_is_chosen(self):
        r = self.finish(scenario="two_wabas", phone_number_id=PHONE_EU)
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"),
                         S + "/phone-numbers?phone_number_id=" + PHONE_EU)
        self.assertEqual(self.row(), ("pending_phone_selection", WABA2, "",
                                      "1"))

    def test_waba_not_granted_is_ignored(self):
        # One WABA granted: a forged session info naming another changes
        # nothing about which WABA is used, and preselects nothing.
        r = self.finish(phone_number_id=PHONE,
                        fields={"waba_id": WABA2,
                                "phone_number_id": PHONE_EU})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        self.assertEqual(self.row(), ("pending_phone_selection", WABA, "",
                                      "1"))
        self.assertIn("the popup named WABA %s, which the token does not "
                      "grant; ignored" % WABA2, self.pool_log())
        # Two granted, the named one neither: the merchant chooses (on a
        # fresh connection; a reconnect would keep the WABA it had).
        post_form(self.b, S + "/disconnect", {})
        r = self.finish(scenario="two_wabas", phone_number_id=PHONE,
                        fields={"waba_id": "999000111222333"})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        self.assertEqual(self.row(), ("pending_phone_selection", "", "",
                                      "1"))
        page = self.b.get(S + "/phone-numbers")
        self.assertIn('id="choose-waba"', page.text)

    def test_number_of_another_waba_is_not_preselected(self):
        r = self.finish(phone_number_id=PHONE,
                        fields={"phone_number_id": PHONE_EU})
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "/phone-numbers")
        self.assertIn("the popup named number %s, which is not one of WABA "
                      "%s's; ignored" % (PHONE_EU, WABA), self.pool_log())
        # A query naming it cannot preselect it either: it is not listed.
        page = self.b.get(S + "/phone-numbers?phone_number_id=" + PHONE_EU)
        self.assertEqual(page.status, 200)
        self.assertNotIn(" checked", page.text)

    def test_reused_state_changes_nothing(self):
        state = self.popup_state()
        r = self.finish(state=state, phone_number_id=PHONE)
        self.assertEqual(r.status, 303, r.text[:800])
        before = self.row()
        n = len(self.exchanges())
        r = self.finish(state=state, phone_number_id=PHONE2)
        self.assertEqual(r.status, 400, r.text[:800])
        self.assertIn("already used", r.text)
        self.assert_unchanged(before)
        self.assertEqual(len(self.exchanges()), n)

    def test_state_of_another_session_changes_nothing(self):
        other = sign_in(self.port, "alice@acme.example", PW)
        state = self.popup_state(b=other)
        before = self.row()
        r = self.finish(state=state, phone_number_id=PHONE)
        self.assertEqual(r.status, 400, r.text[:800])
        self.assertIn("another browser session", r.text)
        self.assert_unchanged(before, states=0)
        self.assertEqual(self.exchanges(), [])

    def test_state_of_another_workspace_changes_nothing(self):
        state = self.popup_state(slug="beta")
        before = self.row()
        r = self.finish(state=state, phone_number_id=PHONE)
        self.assertEqual(r.status, 400, r.text[:800])
        self.assertIn("another workspace", r.text)
        self.assert_unchanged(before, states=0)
        self.assertEqual(self.exchanges(), [])

    def test_bad_fields_change_nothing(self):
        before = self.row()
        state = self.popup_state()
        cases = [
            ({"state": state[:-2]}, "incomplete"),
            ({"state": "zz" + state[2:]}, "incomplete"),
            ({"state": None}, "incomplete"),
            ({"code": None}, "authorization code"),
            ({"code": "has space"}, "authorization code"),
            ({"waba_id": "12ab"}, "business account id"),
            ({"phone_number_id": "1" * 33}, "phone number id"),
            ({"business_id": "-1"}, "business id"),
        ]
        for fields, words in cases:
            with self.subTest(fields=fields):
                f = {"state": state}
                f.update(fields)
                r = self.finish(state=state, fields=f, phone_number_id=PHONE)
                self.assertEqual(r.status, 400, r.text[:800])
                self.assertIn(words, r.text)
                self.assert_unchanged(before, states=1)
        self.assertEqual(self.exchanges(), [])
        # Without the CSRF token: refused before anything else.
        session, login = self.sdk_login(phone_number_id=PHONE)
        r = self.b.post(S + "/embedded-signup", {
            "code": login["authResponse"]["code"], "state": state})
        self.assertEqual(r.status, 403)
        self.assert_unchanged(before, states=1)
        # The state was never spent: it still works once.
        r = self.finish(state=state, phone_number_id=PHONE)
        self.assertEqual(r.status, 303, r.text[:800])

    def test_exchange_failure_stores_nothing(self):
        before = self.row()
        self.sb.inject("debug_token", "500", count=5)
        r = self.finish(phone_number_id=PHONE)
        self.assertIn(r.status, (502, 503), r.text[:800])
        self.assert_unchanged(before, states=0)


class NoConfigId(StackCase):
    """Without [meta] config_id there is no popup: no script, no SDK."""
    workers = 1
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("user", "add", SLUG, "alice@acme.example",
                     input=PW + "\n")

    def test_no_script_and_redirect_flow(self):
        b = sign_in(self.port, "alice@acme.example", PW)
        r = b.get(S)
        self.assertEqual(r.status, 200)
        self.assertNotIn("script-src", r.header("Content-Security-Policy"))
        self.assertNotIn("<script", r.text)
        self.assertNotIn("data-sdk-url", r.text)
        r = b.post(S + "/connect", {"csrf_token": csrf(r)})
        self.assertEqual(r.status, 303)
        self.assertIn("/dialog/oauth?", r.header("Location"))
