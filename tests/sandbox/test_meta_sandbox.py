"""Tests for the Meta sandbox (tests/sandbox/meta_sandbox.py).

Run from the repository root:  python3 -m unittest tests/sandbox/test_meta_sandbox.py -v

The sandbox runs as a subprocess on a free port, exactly as the integration
tests and the demo run it; every test starts from POST /_sandbox/reset.
"""

import hashlib
import hmac
import html.parser
import http.client
import http.server
import json
import os
import queue
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SANDBOX = os.path.join(HERE, "meta_sandbox.py")
APP_ID = "1234567890123"
APP_SECRET = "0123456789abcdef0123456789abcdef"
APP_NAME = "WABA Connect Test"
REDIRECT = "http://127.0.0.1:9/oauth/meta/callback"
WABA_1, WABA_2 = "102290129340398", "102290129340399"
PHONE_1, PHONE_2, PHONE_3 = "106540352242922", "106540352242923", "106540352242924"
WABA_3, WABA_4 = "102290129340400", "102290129340401"
UNVERIFIED, NAME_PENDING = "106540352242925", "106540352242926"
ELSEWHERE, COEX = "106540352242927", "106540352242928"
BUSINESS_ID = "100220012345678"
APP_ORIGIN = "http://127.0.0.1:9"
CUSTOMER = "16505551234"


def proof(token):
    return hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


class FormParser(html.parser.HTMLParser):
    """Collects the dialog's form: action, hidden inputs, buttons, selects."""

    def __init__(self):
        super().__init__()
        self.action, self.hidden, self.buttons, self.selects = None, {}, {}, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "button":
            self.buttons[a.get("id")] = (a.get("name"), a.get("value"))
        elif tag == "select":
            self.selects[a.get("name")] = []
            self._select = a.get("name")
        elif tag == "option":
            self.selects[self._select].append(a.get("value"))


class Receiver(http.server.BaseHTTPRequestHandler):
    """A stand-in for the app's /webhooks/meta: records what arrives."""

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.got.put((dict(self.headers), raw))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_sandbox(tmpdir, secret_file, scheme, *extra):
    """Starts the sandbox on a free port; returns (process, its stderr
    file, port). Its first stdout line says where it listens."""
    stderr = open(os.path.join(tmpdir, "stderr.log"), "w+")
    proc = subprocess.Popen(
        [sys.executable, SANDBOX, "--listen", "127.0.0.1:0", "--app-id", APP_ID,
         "--app-secret-file", secret_file, "--app-name", APP_NAME] + list(extra),
        stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith(f"meta-sandbox listening on {scheme}://127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"sandbox did not start: {line!r}")
    return proc, stderr, int(line.rsplit(":", 1)[1])


def stop_sandbox(proc, stderr):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.stdout.close()
    stderr.close()


class SandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        secret_file = os.path.join(cls.tmp.name, "app_secret")
        with open(secret_file, "w") as f:
            f.write(APP_SECRET + "\n")
        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        cls.receiver.got, cls.receiver.status = queue.Queue(), 200
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        cls.hook_url = f"http://127.0.0.1:{cls.receiver.server_address[1]}/webhooks/meta"
        cls.proc, cls.stderr, cls.port = start_sandbox(
            cls.tmp.name, secret_file, "http", "--webhook-url", cls.hook_url)

    @classmethod
    def tearDownClass(cls):
        stop_sandbox(cls.proc, cls.stderr)
        cls.receiver.shutdown()
        cls.receiver.server_close()
        cls.tmp.cleanup()

    def setUp(self):
        self.control("POST", "/_sandbox/reset")
        self.receiver.status = 200
        while not self.receiver.got.empty():
            self.receiver.got.get_nowait()

    # -- helpers ------------------------------------------------------------

    def call(self, method, path, params=None, json_body=None, form=None, headers=None):
        """One HTTP request; returns (status, headers, parsed JSON or text)."""
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        body, hdrs = None, dict(headers or {})
        if json_body is not None:
            body, hdrs["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        ctype = resp.getheader("Content-Type", "")
        try:
            data = json.loads(raw) if ctype.startswith("application/json") else raw.decode()
        except ValueError:
            data = raw.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def control(self, method, path, body=None, params=None):
        status, _, data = self.call(method, path, params=params, json_body=body)
        self.assertEqual(status, 200, data)
        return data

    def graph(self, method, path, token, params=None, json_body=None, form=None,
              with_proof=True, bearer=False):
        params = dict(params or {})
        headers = {}
        if bearer:
            headers["Authorization"] = f"Bearer {token}"
        else:
            params["access_token"] = token
        if with_proof:
            params["appsecret_proof"] = proof(token)
        return self.call(method, "/v25.0" + path, params=params, json_body=json_body,
                         form=form, headers=headers)

    def dialog_query(self, **extra):
        q = {"client_id": APP_ID, "redirect_uri": REDIRECT, "state": "st4te-xyz",
             "response_type": "code", "config_id": "987654321"}
        q.update(extra)
        return q

    def get_code(self, scenario=None):
        q = self.dialog_query(decision="continue")
        if scenario:
            q["scenario"] = scenario
        status, headers, _ = self.call("GET", "/v25.0/dialog/oauth/decide", params=q)
        self.assertEqual(status, 302)
        loc = urllib.parse.urlsplit(headers["location"])
        qs = dict(urllib.parse.parse_qsl(loc.query))
        self.assertEqual(qs["state"], "st4te-xyz")
        return qs["code"]

    def exchange(self, code, **over):
        params = {"client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uri": REDIRECT,
                  "code": code}
        params.update(over)
        return self.call("GET", "/v25.0/oauth/access_token", params=params)

    def user_token(self, scenario=None, long_lived=True):
        status, _, data = self.exchange(self.get_code(scenario))
        self.assertEqual(status, 200, data)
        if not long_lived:
            return data["access_token"]
        status, _, data = self.call("GET", "/v25.0/oauth/access_token", params={
            "grant_type": "fb_exchange_token", "client_id": APP_ID,
            "client_secret": APP_SECRET, "fb_exchange_token": data["access_token"]})
        self.assertEqual(status, 200, data)
        return data["access_token"]

    def debug(self, token):
        app = f"{APP_ID}|{APP_SECRET}"
        status, _, data = self.call("GET", "/v25.0/debug_token", params={
            "input_token": token, "access_token": app, "appsecret_proof": proof(app)})
        self.assertEqual(status, 200, data)
        return data["data"]

    def assertGraphError(self, result, status, code, subcode=None, type_=None):
        got_status, _, data = result
        self.assertEqual(got_status, status, data)
        err = data["error"]
        self.assertEqual(err["code"], code, err)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["fbtrace_id"])
        if subcode is not None:
            self.assertEqual(err.get("error_subcode"), subcode, err)
        if type_ is not None:
            self.assertEqual(err["type"], type_, err)
        return err

    def register(self, token, phone=PHONE_1, pin="123456"):
        return self.graph("POST", f"/{phone}/register", token,
                          form={"messaging_product": "whatsapp", "pin": pin})

    def next_hook(self):
        return self.receiver.got.get(timeout=5)

    # -- OAuth dialog -------------------------------------------------------

    def test_dialog_page_shows_app_permissions_and_buttons(self):
        status, headers, page = self.call("GET", "/v25.0/dialog/oauth",
                                          params=self.dialog_query())
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers["content-type"])
        self.assertIn(APP_NAME, page)
        for perm in ("whatsapp_business_management", "whatsapp_business_messaging",
                     "business_management"):
            self.assertIn(perm, page)
        self.assertIn("Demo Merchant Ltd", page)
        self.assertIn(WABA_1, page)
        self.assertIn('href="/_sandbox/"', page)
        form = FormParser()
        form.feed(page)
        self.assertEqual(form.buttons["continue"], ("decision", "continue"))
        self.assertEqual(form.buttons["cancel"], ("decision", "cancel"))
        self.assertEqual(form.selects["scenario"],
                         ["one_waba", "two_wabas", "all_states", "coexistence"])
        self.assertEqual(form.hidden["state"], "st4te-xyz")

        # Submitting the page's own form (as a browser would) redirects with a code.
        q = dict(form.hidden, decision="continue", scenario="one_waba")
        status, headers, _ = self.call("GET", form.action, params=q)
        self.assertEqual(status, 302)
        self.assertTrue(headers["location"].startswith(REDIRECT + "?code="))

    def test_dialog_scope_parameter_and_bad_client_id(self):
        _, _, page = self.call("GET", "/v25.0/dialog/oauth", params=self.dialog_query(
            config_id="", scope="whatsapp_business_management,business_management"))
        self.assertIn("whatsapp_business_management", page)
        self.assertNotIn("whatsapp_business_messaging", page)
        status, _, page = self.call("GET", "/v25.0/dialog/oauth",
                                    params=self.dialog_query(client_id="999"))
        self.assertEqual(status, 400)
        self.assertIn("Invalid App ID", page)
        self.assertNotIn('id="continue"', page)
        status, _, page = self.call("GET", "/v25.0/dialog/oauth",
                                    params=self.dialog_query(redirect_uri="javascript:x"))
        self.assertEqual(status, 400)
        self.assertIn("URL Blocked", page)

    def test_cancel_redirects_with_access_denied(self):
        status, headers, _ = self.call("GET", "/v25.0/dialog/oauth/decide",
                                       params=self.dialog_query(decision="cancel"))
        self.assertEqual(status, 302)
        qs = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["location"]).query))
        self.assertEqual(qs, {"error": "access_denied", "error_code": "200",
                              "error_description": "Permissions error",
                              "error_reason": "user_denied", "state": "st4te-xyz"})

    def test_dialog_auto_continue(self):
        self.control("POST", "/_sandbox/config", {"dialog_auto": "continue"})
        status, headers, _ = self.call("GET", "/v25.0/dialog/oauth", params=self.dialog_query())
        self.assertEqual(status, 302)
        self.assertIn("code=", headers["location"])

    # -- oauth/access_token ---------------------------------------------------

    def test_code_exchange_gives_short_lived_token_once(self):
        code = self.get_code()
        status, _, data = self.exchange(code)
        self.assertEqual(status, 200, data)
        self.assertTrue(data["access_token"].startswith("EAAG"))
        self.assertEqual(data["token_type"], "bearer")
        self.assertLessEqual(data["expires_in"], 7200)
        err = self.assertGraphError(self.exchange(code), 400, 100, 36009, "OAuthException")
        self.assertEqual(err["message"], "This authorization code has been used.")

    def test_code_exchange_failures(self):
        self.assertGraphError(self.exchange(self.get_code(), client_secret="wrong"), 400, 1)
        self.assertGraphError(self.exchange(self.get_code(), client_id="42"), 400, 101)
        self.assertGraphError(self.exchange("AQnot-a-code"), 400, 100)
        code = self.get_code()
        self.assertGraphError(self.exchange(code, redirect_uri=REDIRECT + "x"), 400, 100, 36008)
        # Meta spends the code even on a failed attempt.
        self.assertGraphError(self.exchange(code), 400, 100, 36009)

    def test_fb_exchange_token_gives_long_lived_token(self):
        short = self.user_token(long_lived=False)
        status, _, data = self.call("GET", "/v25.0/oauth/access_token", params={
            "grant_type": "fb_exchange_token", "client_id": APP_ID,
            "client_secret": APP_SECRET, "fb_exchange_token": short})
        self.assertEqual(status, 200, data)
        self.assertEqual(data["expires_in"], 5183944)
        self.assertNotEqual(data["access_token"], short)
        info = self.debug(data["access_token"])
        self.assertTrue(info["is_valid"])
        self.assertIn("issued_at", info)
        self.assertAlmostEqual(info["expires_at"], time.time() + 5183944, delta=60)

    # -- debug_token ----------------------------------------------------------

    def test_debug_token_granular_scopes_name_the_wabas(self):
        info = self.debug(self.user_token())
        self.assertEqual(info["app_id"], APP_ID)
        self.assertEqual(info["application"], APP_NAME)
        self.assertEqual(info["type"], "USER")
        self.assertTrue(info["is_valid"])
        self.assertIn("whatsapp_business_messaging", info["scopes"])
        targets = {g["scope"]: g.get("target_ids") for g in info["granular_scopes"]}
        self.assertEqual(targets["whatsapp_business_management"], [WABA_1])
        self.assertEqual(targets["whatsapp_business_messaging"], [WABA_1])

        info = self.debug(self.user_token(scenario="two_wabas"))
        targets = {g["scope"]: g.get("target_ids") for g in info["granular_scopes"]}
        self.assertEqual(targets["whatsapp_business_management"], [WABA_1, WABA_2])

    def test_debug_token_of_unknown_token_and_bad_app_token(self):
        info = self.debug("EAAGnonsense")
        self.assertFalse(info["is_valid"])
        self.assertEqual(info["error"]["code"], 190)
        self.assertGraphError(self.call("GET", "/v25.0/debug_token", params={
            "input_token": "x", "access_token": f"{APP_ID}|wrong"}), 400, 190)

    # -- appsecret_proof --------------------------------------------------------

    def test_appsecret_proof_missing_or_wrong_is_rejected(self):
        token = self.user_token()
        err = self.assertGraphError(self.graph("GET", f"/{WABA_1}/phone_numbers", token,
                                               with_proof=False),
                                    400, 100, type_="GraphMethodException")
        self.assertIn("appsecret_proof", err["message"])
        err = self.assertGraphError(self.graph("GET", f"/{WABA_1}/phone_numbers", token,
                                               params={"appsecret_proof": "00" * 32},
                                               with_proof=False),
                                    400, 100, type_="GraphMethodException")
        self.assertEqual(err["message"], "Invalid appsecret_proof provided in the API argument")

    # -- phone numbers ----------------------------------------------------------

    def test_phone_numbers_listing_and_single_number(self):
        token = self.user_token()
        status, headers, data = self.graph("GET", f"/{WABA_1}/phone_numbers", token)
        self.assertEqual(status, 200, data)
        self.assertEqual([n["id"] for n in data["data"]], [PHONE_1, PHONE_2])
        first = data["data"][0]
        self.assertEqual(first["display_phone_number"], "+1 555 0100")
        self.assertEqual(first["verified_name"], "Demo Merchant")
        self.assertEqual(first["quality_rating"], "GREEN")
        self.assertIn("before", data["paging"]["cursors"])
        self.assertIn("after", data["paging"]["cursors"])
        self.assertNotIn("next", data["paging"])
        _, _, page1 = self.graph("GET", f"/{WABA_1}/phone_numbers", token, params={"limit": 1})
        self.assertEqual([n["id"] for n in page1["data"]], [PHONE_1])
        nxt = urllib.parse.urlsplit(page1["paging"]["next"])
        self.assertEqual(nxt.path, f"/v25.0/{WABA_1}/phone_numbers")
        _, _, page2 = self.call("GET", nxt.path + "?" + nxt.query)
        self.assertEqual([n["id"] for n in page2["data"]], [PHONE_2])

        status, _, data = self.graph("GET", f"/{PHONE_2}", token, bearer=True,
                                     params={"fields": "id,display_phone_number,status,"
                                                       "quality_rating,throughput{level}"})
        self.assertEqual(status, 200, data)
        self.assertEqual(data, {"id": PHONE_2, "display_phone_number": "+1 555 0101",
                                "status": "CONNECTED", "quality_rating": "YELLOW",
                                "throughput": {"level": "STANDARD"}})
        self.assertGraphError(self.graph("GET", f"/{PHONE_1}", token,
                                         params={"fields": "nope"}), 400, 100)

    def test_token_sees_only_granted_wabas(self):
        token = self.user_token()  # one_waba
        err = self.assertGraphError(self.graph("GET", f"/{WABA_2}/phone_numbers", token),
                                    400, 100, 33, "GraphMethodException")
        self.assertIn(f"Object with ID '{WABA_2}' does not exist", err["message"])
        self.assertGraphError(self.graph("GET", f"/{PHONE_3}", token), 400, 100, 33)
        token2 = self.user_token(scenario="two_wabas")
        status, _, data = self.graph("GET", f"/{WABA_2}/phone_numbers", token2)
        self.assertEqual([n["id"] for n in data["data"]], [PHONE_3])

    # -- register / subscribed_apps / messages ------------------------------------

    def test_register(self):
        token = self.user_token()
        self.assertGraphError(self.register(token, pin="12345"), 400, 100)
        status, _, data = self.register(token)
        self.assertEqual((status, data), (200, {"success": True}))
        state = self.control("GET", "/_sandbox/state")
        self.assertTrue(state["numbers"][PHONE_1]["registered"])
        _, _, data = self.graph("GET", f"/{PHONE_1}", token, params={"fields": "platform_type"})
        self.assertEqual(data["platform_type"], "CLOUD_API")
        # JSON bodies work too; a PIN set on the number must match.
        self.control("POST", "/_sandbox/config", {"pins": {PHONE_2: "654321"}})
        self.assertGraphError(self.graph("POST", f"/{PHONE_2}/register", token, json_body={
            "messaging_product": "whatsapp", "pin": "111111"}), 400, 133005)
        status, _, _ = self.graph("POST", f"/{PHONE_2}/register", token, json_body={
            "messaging_product": "whatsapp", "pin": "654321"})
        self.assertEqual(status, 200)

    def test_subscribed_apps(self):
        token = self.user_token()
        status, _, data = self.graph("POST", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual((status, data), (200, {"success": True}))
        _, _, data = self.graph("GET", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual(data["data"][0]["whatsapp_business_api_data"]["id"], APP_ID)
        self.assertEqual(data["data"][0]["whatsapp_business_api_data"]["name"], APP_NAME)
        status, _, data = self.graph("DELETE", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual((status, data), (200, {"success": True}))
        _, _, data = self.graph("GET", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual(data, {"data": []})

    def test_messages(self):
        token = self.user_token()
        body = {"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "+1 650 555 1234", "type": "text", "text": {"body": "Hello!"}}
        self.assertGraphError(self.graph("POST", f"/{PHONE_1}/messages", token,
                                         json_body=body), 400, 133010)
        self.register(token)
        status, _, data = self.graph("POST", f"/{PHONE_1}/messages", token, json_body=body,
                                     bearer=True)
        self.assertEqual(status, 200, data)
        self.assertEqual(data["messaging_product"], "whatsapp")
        self.assertEqual(data["contacts"], [{"input": "+1 650 555 1234",
                                             "wa_id": "16505551234"}])
        self.assertTrue(data["messages"][0]["id"].startswith("wamid."))
        sent = self.control("GET", "/_sandbox/state")["messages"]
        self.assertEqual(len(sent), 1)
        self.assertEqual((sent[0]["body"], sent[0]["phone_number_id"]), ("Hello!", PHONE_1))
        self.assertGraphError(self.graph("POST", f"/{PHONE_1}/messages", token,
                                         json_body=dict(body, text={})), 400, 100)

    # -- revoked / expired tokens -------------------------------------------------

    def test_revoked_token_gets_190_460(self):
        token = self.user_token()
        self.assertEqual(self.control("POST", "/_sandbox/tokens/revoke", {"token": token}),
                         {"revoked": 1})
        err = self.assertGraphError(self.graph("GET", f"/{WABA_1}/phone_numbers", token),
                                    400, 190, 460, "OAuthException")
        self.assertIn("Error validating access token", err["message"])
        info = self.debug(token)
        self.assertFalse(info["is_valid"])
        self.assertEqual((info["error"]["code"], info["error"]["subcode"]), (190, 460))
        other = self.user_token()
        self.control("POST", "/_sandbox/tokens/revoke", {"all": True, "subcode": 458})
        err = self.assertGraphError(self.graph("GET", f"/{PHONE_1}", other), 400, 190, 458)
        self.assertIn(f"has not authorized application {APP_ID}", err["message"])

    def test_expired_token_gets_190_463(self):
        token = self.user_token()
        self.assertEqual(self.control("POST", "/_sandbox/tokens/expire", {"all": True})
                         ["expired"] >= 1, True)
        err = self.assertGraphError(self.graph("GET", f"/{WABA_1}/phone_numbers", token),
                                    400, 190, 463)
        self.assertIn("Session has expired", err["message"])
        self.assertEqual(self.debug(token)["error"]["subcode"], 463)
        self.assertGraphError(self.call("GET", "/v25.0/oauth/access_token", params={
            "grant_type": "fb_exchange_token", "client_id": APP_ID,
            "client_secret": APP_SECRET, "fb_exchange_token": token}), 400, 190, 463)

    # -- injected failures ----------------------------------------------------------

    def test_inject_429_once_then_success(self):
        token = self.user_token()
        self.register(token)
        self.control("POST", "/_sandbox/inject", {"endpoint": "messages", "error": "429"})
        body = {"messaging_product": "whatsapp", "to": "16505551234", "type": "text",
                "text": {"body": "hi"}}
        err = self.assertGraphError(self.graph("POST", f"/{PHONE_1}/messages", token,
                                               json_body=body), 429, 130429)
        self.assertEqual(err["error_data"]["messaging_product"], "whatsapp")
        status, _, _ = self.graph("POST", f"/{PHONE_1}/messages", token, json_body=body)
        self.assertEqual(status, 200)
        self.control("POST", "/_sandbox/inject", {"endpoint": "phone_numbers", "error": "429",
                                                  "count": 2})
        for _ in range(2):
            self.assertGraphError(self.graph("GET", f"/{WABA_1}/phone_numbers", token),
                                  429, 80007)
        self.assertEqual(self.graph("GET", f"/{WABA_1}/phone_numbers", token)[0], 200)
        self.control("POST", "/_sandbox/inject", {"endpoint": "debug_token", "error": "429"})
        status, _, data = self.call("GET", "/v25.0/debug_token", params={
            "input_token": token, "access_token": f"{APP_ID}|{APP_SECRET}"})
        self.assertEqual((status, data["error"]["code"], data["error"]["is_transient"]),
                         (400, 4, True))

    def test_inject_500_190_timeout_and_badjson(self):
        token = self.user_token()
        self.control("POST", "/_sandbox/inject", {"endpoint": "phone", "error": "500"})
        err = self.assertGraphError(self.graph("GET", f"/{PHONE_1}", token), 500, 2)
        self.assertIs(err["is_transient"], True)
        self.control("POST", "/_sandbox/inject", {"endpoint": "subscribed_apps", "error": "190",
                                                  "subcode": 460})
        self.assertGraphError(self.graph("POST", f"/{WABA_1}/subscribed_apps", token),
                              400, 190, 460)
        self.control("POST", "/_sandbox/inject", {"endpoint": "phone", "error": "timeout",
                                                  "delay": 0.6})
        started = time.monotonic()
        status, _, _ = self.graph("GET", f"/{PHONE_1}", token)
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.control("POST", "/_sandbox/inject", {"endpoint": "access_token", "error": "badjson"})
        status, _, data = self.exchange(self.get_code())
        self.assertEqual(status, 200)
        self.assertIsInstance(data, str)  # not JSON
        with self.assertRaises(ValueError):
            json.loads(data)
        self.control("POST", "/_sandbox/inject", {"endpoint": "debug_token", "error": "badjson",
                                                  "variant": "wrongtype"})
        _, _, data = self.call("GET", "/v25.0/debug_token", params={
            "input_token": token, "access_token": f"{APP_ID}|{APP_SECRET}"})
        self.assertIsInstance(data["data"]["is_valid"], str)
        status, _, data = self.call("POST", "/_sandbox/inject", json_body={
            "endpoint": "nowhere", "error": "500"})
        self.assertEqual(status, 400)

    def test_inject_by_method(self):
        token = self.user_token()
        self.control("POST", "/_sandbox/inject", {"endpoint": "subscribed_apps",
                                                  "error": "500", "method": "post"})
        status, _, _ = self.graph("GET", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual(status, 200)  # the GET is not the rule's
        self.assertGraphError(self.graph("POST", f"/{WABA_1}/subscribed_apps", token),
                              500, 2)
        status, _, _ = self.graph("POST", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual(status, 200)  # count 1: used up
        status, _, _ = self.call("POST", "/_sandbox/inject", json_body={
            "endpoint": "subscribed_apps", "error": "500", "method": "PATCH"})
        self.assertEqual(status, 400)

    def test_inject_in_other_words(self):
        """message, details, message_hex: Meta's text as the test says."""
        token = self.user_token()
        self.register(token)
        send = {"messaging_product": "whatsapp", "to": "447700900123", "type": "text",
                "text": {"body": "hi"}}
        self.control("POST", "/_sandbox/inject", {"endpoint": "messages", "error": "131026",
                                                  "message": "m" * 600, "details": "d\u00e9"})
        status, _, body = self.graph("POST", f"/{PHONE_1}/messages", token, json_body=send)
        self.assertEqual((status, body["error"]["code"]), (400, 131026))
        self.assertEqual(body["error"]["message"], "m" * 600)
        self.assertEqual(body["error"]["error_data"]["details"], "d\u00e9")
        self.control("POST", "/_sandbox/inject", {"endpoint": "messages", "error": "131026",
                                                  "message_hex": "41c3a942"})
        status, _, body = self.graph("POST", f"/{PHONE_1}/messages", token, json_body=send)
        self.assertEqual(body["error"]["message"], "A\u00e9B")
        for bad in ({"message": ""}, {"message": 5}, {"details": "x" * 8001},
                    {"message_hex": "zz"}, {"message_hex": "22"}, {"message_hex": "0a"}):
            status, _, _ = self.call("POST", "/_sandbox/inject", json_body=dict(
                {"endpoint": "messages", "error": "131026"}, **bad))
            self.assertEqual(status, 400, bad)

    # -- catalog --------------------------------------------------------------------

    def test_catalog(self):
        created = self.control("POST", "/_sandbox/catalogs",
                               {"catalog_id": "CATALOG_ID", "name": "Spring range"})
        token = created["token"]
        status, _, data = self.graph("GET", "/CATALOG_ID", token)
        self.assertEqual((status, data), (200, {"id": "CATALOG_ID", "name": "Spring range"}))
        _, _, data = self.graph("GET", "/CATALOG_ID", token,
                                params={"fields": "id,name,product_count"})
        self.assertEqual(data["product_count"], 0)
        self.assertGraphError(self.graph("GET", "/CATALOG_ID", "EAAGwrong"), 400, 190)
        # A WABA token is not a catalog token.
        self.assertGraphError(self.graph("GET", "/CATALOG_ID", self.user_token()), 400, 100, 33)
        fixture = self.control("GET", "/_sandbox/state")["catalogs"]["880011223344556"]
        status, _, _ = self.graph("GET", "/880011223344556", fixture["tokens"][0])
        self.assertEqual(status, 200)

    # -- Catalog Batch API ----------------------------------------------------------

    @staticmethod
    def product(rid, **over):
        data = {"id": rid, "title": f"Shirt {rid}", "description": "Cotton",
                "availability": "in stock", "condition": "new", "price": "9.99 USD",
                "link": f"https://shop.example/{rid}", "image_link": "https://shop.example/i.jpg",
                "brand": "Demo"}
        data.update(over)
        return data

    def test_items_batch_then_status_started_then_finished(self):
        token = self.control("POST", "/_sandbox/catalogs", {"catalog_id": "CAT_B"})["token"]
        reqs = [{"method": "CREATE", "data": self.product(f"r-{i}")} for i in range(3)]
        reqs.append({"method": "CREATE", "data": self.product("bad", availability=None,
                                                              price="cheap")})
        status, _, data = self.graph("POST", "/CAT_B/items_batch", token, bearer=True,
                                     json_body={"item_type": "PRODUCT_ITEM",
                                                "requests": reqs})
        self.assertEqual(status, 200, data)
        self.assertEqual(len(data["handles"]), 1)
        handle = data["handles"][0]
        self.assertRegex(handle, r"^[A-Za-z0-9_-]{100,}$")
        self.assertEqual(data["validation_status"], [])
        q = {"handle": handle, "load_ids_of_invalid_requests": "true"}
        _, _, first = self.graph("GET", "/CAT_B/check_batch_request_status", token, params=q)
        self.assertEqual(first["data"][0]["status"], "started")
        _, _, done = self.graph("GET", "/CAT_B/check_batch_request_status", token, params=q)
        st = done["data"][0]
        self.assertEqual((st["status"], st["handle"], st["errors_total_count"]),
                         ("finished", handle, 2))
        self.assertEqual({e["id"] for e in st["errors"]}, {"bad"})
        self.assertEqual({e["line"] for e in st["errors"]}, {3})
        self.assertIn("Availability", st["errors"][0]["message"])
        self.assertEqual(st["ids_of_invalid_requests"], ["bad"])
        products = self.control("GET", "/_sandbox/state")["catalogs"]["CAT_B"]["products"]
        self.assertEqual(sorted(products), ["r-0", "r-1", "r-2"])
        # Without load_ids_of_invalid_requests the ids stay empty, as Meta's do.
        _, _, done = self.graph("GET", "/CAT_B/check_batch_request_status", token,
                                params={"handle": handle})
        self.assertEqual(done["data"][0]["ids_of_invalid_requests"], [])
        # The form encoding of Meta's curl samples: requests as a JSON string.
        status, _, data = self.graph("POST", "/CAT_B/items_batch", token, form={
            "item_type": "PRODUCT_ITEM",
            "requests": json.dumps([{"method": "UPDATE", "data": {"id": "r-0",
                                                                  "price": "5.00 USD"}},
                                    {"method": "DELETE", "data": {"id": "r-1"}}])})
        self.assertEqual(status, 200, data)
        products = self.control("GET", "/_sandbox/state")["catalogs"]["CAT_B"]["products"]
        self.assertEqual((sorted(products), products["r-0"]["price"]),
                         (["r-0", "r-2"], "5.00 USD"))
        # Another catalog's handle, or none known: an empty collection.
        other = self.control("POST", "/_sandbox/catalogs", {"catalog_id": "CAT_C"})["token"]
        _, _, data = self.graph("GET", "/CAT_C/check_batch_request_status", other,
                                params={"handle": handle})
        self.assertEqual(data, {"data": []})

    def test_items_batch_refusals_like_meta(self):
        token = self.control("POST", "/_sandbox/catalogs", {"catalog_id": "CAT_B"})["token"]
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        for body in ({"requests": ok}, {"item_type": "SHOE", "requests": ok},
                     {"item_type": "PRODUCT_ITEM"},
                     {"item_type": "PRODUCT_ITEM", "requests": []},
                     {"item_type": "PRODUCT_ITEM", "requests": ok * 5001},
                     {"item_type": "PRODUCT_ITEM", "requests": [{"method": "PUT",
                                                                 "data": {"id": "x"}}]},
                     {"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE",
                                                                 "data": {}}]}):
            self.assertGraphError(self.graph("POST", "/CAT_B/items_batch", token,
                                             json_body=body), 400, 100)
        self.assertFalse(self.control("GET", "/_sandbox/state").get("batches"))
        # A WABA token, or another catalog's: not this catalog.
        self.assertGraphError(self.graph("POST", "/CAT_B/items_batch", self.user_token(),
                                         json_body={"item_type": "PRODUCT_ITEM",
                                                    "requests": ok}), 400, 100, 33)
        self.assertGraphError(self.graph("GET", "/CAT_B/check_batch_request_status", token),
                              400, 100)

    def test_catalog_batch_injections_and_revoked_token(self):
        token = self.control("POST", "/_sandbox/catalogs", {"catalog_id": "CAT_B"})["token"]
        body = {"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE",
                                                           "data": {"id": "x"}}]}
        self.control("POST", "/_sandbox/inject", {"endpoint": "items_batch", "error": "429",
                                                  "fbtrace_id": "TRACE1"})
        err = self.assertGraphError(self.graph("POST", "/CAT_B/items_batch", token,
                                               json_body=body), 400, 80014)
        self.assertEqual(err["fbtrace_id"], "TRACE1")
        self.control("POST", "/_sandbox/inject", {"endpoint": "check_batch_request_status",
                                                  "error": "429"})
        self.assertGraphError(self.graph("GET", "/CAT_B/check_batch_request_status", token,
                                         params={"handle": "Ac"}), 400, 80009)
        for endpoint in ("items_batch", "check_batch_request_status"):
            self.control("POST", "/_sandbox/inject", {"endpoint": endpoint, "error": "500"})
            self.control("POST", "/_sandbox/inject", {"endpoint": endpoint, "error": "190",
                                                      "subcode": 460})
        for want in ((500, 2), (400, 190)):
            self.assertGraphError(self.graph("POST", "/CAT_B/items_batch", token,
                                             json_body=body), *want)
            self.assertGraphError(self.graph("GET", "/CAT_B/check_batch_request_status",
                                             token, params={"handle": "Ac"}), *want)
        self.assertEqual(self.graph("POST", "/CAT_B/items_batch", token,
                                    json_body=body)[0], 200)
        self.control("POST", "/_sandbox/tokens/revoke", {"token": token})
        self.assertGraphError(self.graph("POST", "/CAT_B/items_batch", token,
                                         json_body=body), 400, 190, 460)
        self.assertEqual(len(self.control("GET", "/_sandbox/requests",
                                          params={"endpoint": "items_batch"})["requests"]), 5)

    # -- request log ----------------------------------------------------------------

    def test_requests_log_shows_token_and_proof(self):
        token = self.user_token()
        self.control("POST", "/_sandbox/requests/clear")
        self.graph("GET", f"/{WABA_1}/phone_numbers", token)
        self.graph("GET", f"/{PHONE_1}", token, bearer=True)
        reqs = self.control("GET", "/_sandbox/requests",
                            params={"endpoint": "phone_numbers"})["requests"]
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["access_token"], token)
        self.assertEqual(reqs[0]["appsecret_proof"], proof(token))
        self.assertEqual(reqs[0]["path"], f"/v25.0/{WABA_1}/phone_numbers")
        phone = self.control("GET", "/_sandbox/requests", params={"endpoint": "phone"})
        self.assertEqual(phone["requests"][0]["authorization"], f"Bearer {token}")
        self.assertEqual(len(self.control("GET", "/_sandbox/requests")["requests"]), 2)
        # Which way the token came, so tests can tell a URL from a header.
        self.assertEqual(reqs[0]["token_via"], "query")
        self.assertEqual(phone["requests"][0]["token_via"], "header")
        self.assertEqual(phone["requests"][0]["access_token"], token)
        self.assertEqual(phone["requests"][0]["scheme"], "http")

    def test_bearer_token_proof_and_body_token(self):
        token = self.user_token()
        # Bearer: the proof is checked against the header's token.
        status, _, _ = self.graph("GET", f"/{PHONE_1}", token, bearer=True)
        self.assertEqual(status, 200)
        self.assertGraphError(self.call("GET", f"/v25.0/{PHONE_1}", params={
            "appsecret_proof": proof("another token")},
            headers={"Authorization": f"Bearer {token}"}), 400, 100)
        self.assertGraphError(self.call("GET", f"/v25.0/{PHONE_1}",
                                        headers={"Authorization": f"Bearer {token}"}),
                              400, 100)
        # "OAuth" is Graph's other scheme; an empty Bearer is no token.
        status, _, _ = self.call("GET", f"/v25.0/{PHONE_1}", params={
            "appsecret_proof": proof(token)}, headers={"Authorization": f"OAuth {token}"})
        self.assertEqual(status, 200)
        self.assertGraphError(self.call("GET", f"/v25.0/{PHONE_1}",
                                        headers={"Authorization": "Bearer "}), 400, 104)
        # A token in a form body counts as "body".
        self.control("POST", "/_sandbox/requests/clear")
        status, _, _ = self.call("POST", f"/v25.0/{WABA_1}/subscribed_apps",
                                 params={"appsecret_proof": proof(token)},
                                 form={"access_token": token})
        self.assertEqual(status, 200)
        req = self.control("GET", "/_sandbox/requests")["requests"][0]
        self.assertEqual(req["token_via"], "body")
        self.assertNotIn("access_token", req["query"])

    def test_oauth_exchange_by_post_form(self):
        code = self.get_code()
        self.control("POST", "/_sandbox/requests/clear")
        status, _, data = self.call("POST", "/v25.0/oauth/access_token", form={
            "client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uri": REDIRECT,
            "code": code})
        self.assertEqual(status, 200, data)
        status, _, data = self.call("POST", "/v25.0/oauth/access_token", form={
            "grant_type": "fb_exchange_token", "client_id": APP_ID,
            "client_secret": APP_SECRET, "fb_exchange_token": data["access_token"]})
        self.assertEqual(status, 200, data)
        self.assertEqual(data["expires_in"], 5183944)
        reqs = self.control("GET", "/_sandbox/requests")["requests"]
        self.assertEqual([r["endpoint"] for r in reqs], ["access_token", "exchange_token"])
        for r in reqs:
            self.assertEqual(r["query"], {})
            self.assertEqual(r["body"]["client_secret"], APP_SECRET)

    # -- webhooks -------------------------------------------------------------------

    def subscribe(self, waba=WABA_1):
        self.control("POST", "/_sandbox/subscribe", {"waba_id": waba})

    def test_webhook_message_is_signed(self):
        self.subscribe()
        out = self.control("POST", "/_sandbox/webhook",
                           {"kind": "message", "phone_number_id": PHONE_2})
        self.assertEqual((out["sent"], out["responses"]), (1, [200]))
        headers, raw = self.next_hook()
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        self.assertEqual(headers["X-Hub-Signature-256"], expected)
        payload = json.loads(raw)
        self.assertEqual(payload, out["bodies"][0])
        self.assertEqual(payload["object"], "whatsapp_business_account")
        entry = payload["entry"][0]
        self.assertEqual(entry["id"], WABA_1)
        change = entry["changes"][0]
        self.assertEqual(change["field"], "messages")
        value = change["value"]
        self.assertEqual(value["metadata"], {"display_phone_number": "15550101",
                                             "phone_number_id": PHONE_2})
        msg = value["messages"][0]
        self.assertEqual((msg["type"], msg["from"]), ("text", value["contacts"][0]["wa_id"]))
        self.assertTrue(msg["id"].startswith("wamid."))

    def test_webhook_status_redelivery_and_signature_modes(self):
        token = self.user_token()
        self.register(token)
        self.subscribe()
        _, _, sent = self.graph("POST", f"/{PHONE_1}/messages", token, json_body={
            "messaging_product": "whatsapp", "to": "447700900123", "type": "text",
            "text": {"body": "order ready"}})
        out = self.control("POST", "/_sandbox/webhook", {"kind": "status", "status": "read",
                                                         "phone_number_id": PHONE_1,
                                                         "redeliver": True})
        self.assertEqual((out["sent"], out["responses"]), (2, [200, 200]))
        first, second = self.next_hook(), self.next_hook()
        self.assertEqual(first[1], second[1])  # byte-identical redelivery
        status = json.loads(first[1])["entry"][0]["changes"][0]["value"]["statuses"][0]
        self.assertEqual((status["id"], status["status"], status["recipient_id"]),
                         (sent["messages"][0]["id"], "read", "447700900123"))

        self.control("POST", "/_sandbox/webhook", {"kind": "message", "signature": "bad"})
        headers, raw = self.next_hook()
        good = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        self.assertNotEqual(headers["X-Hub-Signature-256"], good)
        self.control("POST", "/_sandbox/webhook", {"kind": "message", "signature": "none"})
        headers, _ = self.next_hook()
        self.assertNotIn("X-Hub-Signature-256", headers)

        self.receiver.status = 403
        out = self.control("POST", "/_sandbox/webhook", {"kind": "error", "count": 2})
        self.assertEqual(out["responses"], [403, 403])
        value = json.loads(self.next_hook()[1])["entry"][0]["changes"][0]["value"]
        self.assertEqual(value["errors"][0]["code"], 131000)

    def test_webhook_account_update(self):
        token = self.user_token()
        out = self.control("POST", "/_sandbox/webhook", {"kind": "account_update",
                                                         "waba_id": WABA_1,
                                                         "event": "PARTNER_REMOVED"})
        payload = json.loads(self.next_hook()[1])
        self.assertEqual(payload, out["bodies"][0])
        change = payload["entry"][0]["changes"][0]
        self.assertEqual(change["field"], "account_update")
        self.assertEqual(change["value"]["event"], "PARTNER_REMOVED")
        self.assertEqual(change["value"]["waba_info"]["waba_id"], WABA_1)
        # Removing the app also cuts off its tokens for that WABA.
        self.assertGraphError(self.graph("GET", f"/{PHONE_1}", token), 400, 190, 458)

        self.subscribe(WABA_2)
        self.control("POST", "/_sandbox/webhook", {"kind": "account_update", "waba_id": WABA_2,
                                                   "event": "ACCOUNT_RESTRICTION"})
        entry = json.loads(self.next_hook()[1])["entry"][0]
        self.assertEqual(entry["id"], WABA_2)
        self.assertIn("restriction_info", entry["changes"][0]["value"])

    def test_webhook_trouble_fields(self):
        self.subscribe()
        want = {
            "message_template_status_update": {"event", "message_template_id",
                                               "message_template_name",
                                               "message_template_language", "reason"},
            "message_template_quality_update": {"previous_quality_score",
                                                "new_quality_score", "message_template_id"},
            "template_category_update": {"previous_category", "new_category",
                                         "message_template_id"},
            "phone_number_quality_update": {"display_phone_number", "event",
                                            "current_limit"},
            "phone_number_name_update": {"display_phone_number", "decision",
                                         "requested_verified_name", "rejection_reason"},
            "account_alerts": {"entity_type", "entity_id", "alert_info"},
            "account_review_update": {"decision"},
            "business_capability_update": {"max_daily_conversations_per_business",
                                           "max_phone_numbers_per_business"},
            "security": {"display_phone_number", "event", "requester"},
        }
        for field, members in want.items():
            out = self.control("POST", "/_sandbox/webhook",
                               {"kind": field, "phone_number_id": PHONE_1})
            self.assertEqual((out["sent"], out["responses"]), (1, [200]), field)
            headers, raw = self.next_hook()
            good = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
            self.assertEqual(headers["X-Hub-Signature-256"], good)
            entry = json.loads(raw)["entry"][0]
            self.assertEqual(entry["id"], WABA_1)
            self.assertIn("time", entry)
            change = entry["changes"][0]
            self.assertEqual(change["field"], field)
            self.assertLessEqual(members, set(change["value"]), field)
        # A test's own members over the defaults.
        out = self.control("POST", "/_sandbox/webhook", {
            "kind": "message_template_status_update", "event": "PAUSED",
            "value": {"other_info": {"title": "FIRST_PAUSE", "description": "x"}}})
        value = out["bodies"][0]["entry"][0]["changes"][0]["value"]
        self.assertEqual((value["event"], value["other_info"]["title"]), ("PAUSED", "FIRST_PAUSE"))
        self.next_hook()
        status, _, _ = self.call("POST", "/_sandbox/webhook", json_body={
            "kind": "security", "value": "not an object"})
        self.assertEqual(status, 400)

    def test_webhook_only_for_subscribed_wabas(self):
        # Nothing subscribed yet: built, not delivered.
        out = self.control("POST", "/_sandbox/webhook", {"kind": "message"})
        self.assertEqual((out["sent"], out["responses"]), (0, []))
        self.assertIn("not subscribed", out["not_delivered"])
        self.assertEqual(out["bodies"][0]["entry"][0]["id"], WABA_1)
        self.assertTrue(self.receiver.got.empty())
        # Subscribed through Graph, as the app does: delivered.
        token = self.user_token()
        status, _, _ = self.graph("POST", f"/{WABA_1}/subscribed_apps", token)
        self.assertEqual(status, 200)
        out = self.control("POST", "/_sandbox/webhook", {"kind": "message"})
        self.assertEqual(out["responses"], [200])
        self.next_hook()
        # PARTNER_REMOVED still arrives (it is about the partnership) and
        # leaves the WABA unsubscribed; the control API can do the same.
        out = self.control("POST", "/_sandbox/webhook", {"kind": "account_update",
                                                         "event": "PARTNER_REMOVED"})
        self.assertEqual(out["responses"], [200])
        self.next_hook()
        self.assertEqual(self.control("GET", "/_sandbox/state")["wabas"][WABA_1]
                         ["subscribed_apps"], {})
        self.assertEqual(self.control("POST", "/_sandbox/webhook",
                                      {"kind": "status"})["sent"], 0)
        self.subscribe()
        self.assertEqual(self.control("POST", "/_sandbox/unsubscribe",
                                      {"waba_id": WABA_1}), {"subscribed_apps": []})
        self.assertEqual(self.control("POST", "/_sandbox/webhook",
                                      {"kind": "message"})["sent"], 0)

    def test_fbtrace_header_on_every_graph_answer(self):
        token = self.user_token()
        status, headers, body = self.graph("GET", f"/{PHONE_1}", token)
        self.assertEqual(status, 200)
        self.assertRegex(headers["x-fb-trace-id"], r"^[A-Za-z0-9_-]+$")
        self.control("POST", "/_sandbox/inject", {"endpoint": "phone", "error": "500",
                                                  "fbtrace_id": "TraceFive00"})
        status, headers, body = self.graph("GET", f"/{PHONE_1}", token)
        self.assertEqual((status, headers["x-fb-trace-id"]), (500, "TraceFive00"))
        self.assertEqual(body["error"]["fbtrace_id"], "TraceFive00")
        self.control("POST", "/_sandbox/inject", {"endpoint": "phone", "error": "badjson",
                                                  "variant": "html",
                                                  "fbtrace_id": "TraceHtml"})
        status, headers, _ = self.graph("GET", f"/{PHONE_1}", token)
        self.assertEqual((status, headers["x-fb-trace-id"]), (200, "TraceHtml"))
        reqs = self.control("GET", "/_sandbox/requests", params={"endpoint": "phone"})
        self.assertEqual([r.get("fbtrace_id") for r in reqs["requests"]][1:],
                         ["TraceFive00", "TraceHtml"])
        # "drop": the message is sent, and the connection closes with no
        # byte of answer (http.client sees the server hang up).
        self.register(token)
        self.control("POST", "/_sandbox/inject", {"endpoint": "messages", "error": "drop"})
        before = len(self.control("GET", "/_sandbox/sends")["sends"])
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.graph("POST", f"/{PHONE_1}/messages", token, json_body={
                "messaging_product": "whatsapp", "to": "447700900123", "type": "text",
                "text": {"body": "dropped"}})
        sends = self.control("GET", "/_sandbox/sends")["sends"]
        self.assertEqual([q["text"] for q in sends[before:]], ["dropped"])
        self.control("POST", "/_sandbox/inject", {"endpoint": "messages", "error": "131047"})
        status, _, body = self.graph("POST", f"/{PHONE_1}/messages", token, json_body={
            "messaging_product": "whatsapp", "to": "447700900123", "type": "text",
            "text": {"body": "hi"}})
        self.assertEqual((status, body["error"]["code"]), (400, 131047))
        self.assertEqual(body["error"]["message"], "(#131047) Re-engagement message")
        self.assertIn("more than 24 hours", body["error"]["error_data"]["details"])

    def test_webhook_without_receiver_reports_failure(self):
        self.subscribe()
        out = self.control("POST", "/_sandbox/webhook",
                           {"kind": "message", "url": "http://127.0.0.1:9/nothing"})
        self.assertEqual(out["responses"], [None])
        self.assertTrue(out["errors"])

    # -- control page and logging -----------------------------------------------------

    def test_control_page_and_forms(self):
        status, _, page = self.call("GET", "/_sandbox/")
        self.assertEqual(status, 200)
        self.assertIn("Meta sandbox control", page)
        self.assertIn('action="/_sandbox/ui/revoke_all"', page)
        token = self.user_token()
        status, headers, _ = self.call("POST", "/_sandbox/ui/expire_all", form={})
        self.assertEqual(status, 303)
        self.assertTrue(headers["location"].startswith("/_sandbox/?msg="))
        self.assertGraphError(self.graph("GET", f"/{PHONE_1}", token), 400, 190, 463)
        self.subscribe()
        status, _, _ = self.call("POST", "/_sandbox/ui/webhook",
                                 form={"kind": "message", "phone_number_id": PHONE_1})
        self.assertEqual(status, 303)
        self.next_hook()

    def test_control_page_shows_and_fixes_number_states(self):
        token = self.user_token(scenario="all_states")
        self.graph("POST", f"/{UNVERIFIED}/request_code", token,
                   params={"code_method": "SMS", "language": "en_US"})
        code = self.number_state(UNVERIFIED)["verification"]["code"]
        _, _, page = self.call("GET", "/_sandbox/")
        self.assertIn(f"code NOT_VERIFIED, last code sent: {code}", page)
        self.assertIn("display name PENDING_REVIEW", page)
        self.assertIn("on another WhatsApp account", page)
        self.assertIn("WhatsApp Business app; synced: nothing", page)
        for change, phone, key, value in (("approve_name", NAME_PENDING, "name_status",
                                           "APPROVED"),
                                          ("free", ELSEWHERE, "in_use_elsewhere", False)):
            status, headers, _ = self.call("POST", "/_sandbox/ui/number", form={
                "phone_number_id": phone, "change": change})
            self.assertEqual(status, 303)
            self.assertEqual(self.number_state(phone)[key], value)
        status, headers, _ = self.call("POST", "/_sandbox/ui/number", form={
            "phone_number_id": PHONE_1, "change": "delete"})
        self.assertIn("Error", urllib.parse.unquote_plus(headers["location"]))
        self.subscribe(WABA_4)
        self.call("POST", "/_sandbox/ui/webhook", form={"kind": "smb_message_echoes",
                                                        "phone_number_id": COEX})
        self.hook_value("smb_message_echoes")

    def test_stderr_log_has_no_secrets(self):
        token = self.user_token()
        self.graph("GET", f"/{WABA_1}/phone_numbers", token)
        code = self.get_code()
        self.exchange(code)
        time.sleep(0.2)
        self.stderr.flush()
        with open(self.stderr.name) as f:
            log = f.read()
        self.assertIn("/phone_numbers", log)
        for secret in (APP_SECRET, token, code, proof(token), "st4te-xyz"):
            self.assertNotIn(secret, log)

    def test_unknown_path_and_state_shape(self):
        self.assertGraphError(self.call("GET", "/v25.0/some/odd/path"), 400, 2500)
        state = self.control("GET", "/_sandbox/state")
        self.assertEqual(set(state["wabas"]), {WABA_1, WABA_2, WABA_3, WABA_4})
        self.assertEqual(state["app"], {"id": APP_ID, "name": APP_NAME,
                                        "webhook_url": self.hook_url})
        self.assertNotIn(APP_SECRET, json.dumps(state))

    # -- onboarding: numbers in every state (issue 10) ----------------------------

    def phone_fields(self, token, phone, fields):
        status, _, data = self.graph("GET", f"/{phone}", token, params={"fields": fields})
        self.assertEqual(status, 200, data)
        return data

    def number_state(self, phone):
        return self.control("GET", "/_sandbox/state")["numbers"][phone]

    # -- the health monitor's fields (issue 12) ----------------------------

    def test_health_fields_default_and_set(self):
        token = self.user_token()
        data = self.phone_fields(token, PHONE_1, "health_status,throughput,"
                                 "whatsapp_business_manager_messaging_limit,"
                                 "webhook_configuration")
        hs = data["health_status"]
        self.assertEqual(hs["can_send_message"], "AVAILABLE")
        self.assertEqual([e["entity_type"] for e in hs["entities"]],
                         ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"])
        self.assertEqual(hs["entities"][0]["id"], PHONE_1)
        self.assertEqual(data["throughput"], {"level": "STANDARD"})
        self.assertEqual(data["whatsapp_business_manager_messaging_limit"], "TIER_1K")
        self.assertEqual(data["webhook_configuration"], {"application": self.hook_url})
        err = {"error_code": 141006, "error_description": "Payment method error.",
               "possible_solution": "Add a payment method."}
        self.control("POST", "/_sandbox/numbers/health",
                     {"phone_number_id": PHONE_1, "entity_type": "WABA",
                      "can_send_message": "BLOCKED", "errors": [err]})
        self.control("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE_1, "messaging_limit": "TIER_10K",
                      "throughput": {"level": "HIGH"},
                      "webhook_override": "https://num.example/h"})
        self.control("POST", "/_sandbox/subscribe",
                     {"waba_id": WABA_1, "override_callback_uri": "https://waba.example/h"})
        self.control("POST", "/_sandbox/app/webhook", {"webhook_url": "https://app.example/h"})
        data = self.phone_fields(token, PHONE_1, "health_status,throughput,"
                                 "whatsapp_business_manager_messaging_limit,"
                                 "webhook_configuration")
        self.assertEqual(data["health_status"]["can_send_message"], "BLOCKED")
        waba = data["health_status"]["entities"][1]
        self.assertEqual((waba["entity_type"], waba["id"], waba["errors"]),
                         ("WABA", WABA_1, [err]))
        self.assertEqual(data["throughput"], {"level": "HIGH"})
        self.assertEqual(data["whatsapp_business_manager_messaging_limit"], "TIER_10K")
        self.assertEqual(data["webhook_configuration"],
                         {"phone_number": "https://num.example/h",
                          "whatsapp_business_account": "https://waba.example/h",
                          "application": "https://app.example/h"})
        # Bad values change nothing.
        for path, body in (("/_sandbox/numbers/health",
                            {"phone_number_id": PHONE_1, "can_send_message": "MAYBE"}),
                           ("/_sandbox/numbers/health",
                            {"phone_number_id": PHONE_1, "errors": [{"error_code": "x"}]}),
                           ("/_sandbox/numbers/health", {"phone_number_id": "42"}),
                           ("/_sandbox/app/webhook", {"webhook_url": "ftp://x"}),
                           ("/_sandbox/numbers/update",
                            {"phone_number_id": PHONE_1, "throughput": {"level": "FAST"}}),
                           ("/_sandbox/tokens/expires", {"all": True, "expires_in": "soon"})):
            self.assertEqual(self.call("POST", path, json_body=body)[0], 400, (path, body))

    def test_token_expires_in(self):
        token = self.user_token()
        self.control("POST", "/_sandbox/tokens/expires", {"token": token, "expires_in": 3600})
        data = self.debug(token)
        self.assertTrue(data["is_valid"])
        self.assertTrue(3500 <= data["expires_at"] - time.time() <= 3700)
        self.control("POST", "/_sandbox/tokens/expires", {"token": token, "expires_in": -5})
        self.assertFalse(self.debug(token)["is_valid"])

    def test_new_wabas_only_in_their_scenarios(self):
        token = self.user_token()  # one_waba: what existing tests count is unchanged
        _, _, data = self.graph("GET", f"/{WABA_1}/phone_numbers", token)
        self.assertEqual([n["id"] for n in data["data"]], [PHONE_1, PHONE_2])
        self.assertGraphError(self.graph("GET", f"/{WABA_3}/phone_numbers", token),
                              400, 100, 33)
        info = self.debug(self.user_token(scenario="two_wabas"))
        targets = {g["scope"]: g.get("target_ids") for g in info["granular_scopes"]}
        self.assertEqual(targets["whatsapp_business_management"], [WABA_1, WABA_2])

        token = self.user_token(scenario="all_states")
        info = self.debug(token)
        targets = {g["scope"]: g.get("target_ids") for g in info["granular_scopes"]}
        self.assertEqual(targets["whatsapp_business_management"], [WABA_1, WABA_2, WABA_3])
        _, _, data = self.graph("GET", f"/{WABA_3}/phone_numbers", token, params={
            "fields": "id,code_verification_status,name_status,status,is_on_biz_app"})
        self.assertEqual(data["data"], [
            {"id": UNVERIFIED, "code_verification_status": "NOT_VERIFIED",
             "name_status": "APPROVED", "status": "PENDING", "is_on_biz_app": False},
            {"id": NAME_PENDING, "code_verification_status": "VERIFIED",
             "name_status": "PENDING_REVIEW", "status": "PENDING", "is_on_biz_app": False},
            {"id": ELSEWHERE, "code_verification_status": "VERIFIED",
             "name_status": "APPROVED", "status": "PENDING", "is_on_biz_app": False}])

        token = self.user_token(scenario="coexistence")
        _, _, data = self.graph("GET", f"/{WABA_4}/phone_numbers", token)
        self.assertEqual([n["id"] for n in data["data"]], [COEX])
        self.assertEqual(self.phone_fields(token, COEX, "is_on_biz_app,platform_type"),
                         {"id": COEX, "is_on_biz_app": True, "platform_type": "CLOUD_API"})
        self.assertGraphError(self.graph("GET", f"/{WABA_1}", token), 400, 100, 33)

    def test_unverified_number_gets_a_code_then_registers(self):
        token = self.user_token(scenario="all_states")
        err = self.assertGraphError(self.register(token, UNVERIFIED), 400, 133006)
        self.assertEqual(err["message"], "(#133006) Phone number re-verification needed")
        self.assertIn("verified before registering", err["error_data"]["details"])
        self.assertGraphError(self.graph("POST", f"/{UNVERIFIED}/verify_code", token,
                                         form={"code": "123456"}), 400, 136025)
        err = self.assertGraphError(self.graph("POST", f"/{UNVERIFIED}/request_code", token,
                                               form={"code_method": "EMAIL",
                                                     "language": "en_US"}), 400, 100)
        self.assertIn("code_method", err["message"])
        self.assertGraphError(self.graph("POST", f"/{UNVERIFIED}/request_code", token,
                                         form={"code_method": "SMS"}), 400, 100)
        # As Meta's reference sends them: in the query string.
        status, _, data = self.graph("POST", f"/{UNVERIFIED}/request_code", token,
                                     params={"code_method": "VOICE", "language": "de_DE"})
        self.assertEqual((status, data), (200, {"success": True}))
        sent = self.number_state(UNVERIFIED)["verification"]
        self.assertRegex(sent["code"], r"^\d{6}$")
        self.assertEqual((sent["code_method"], sent["language"]), ("VOICE", "de_DE"))
        wrong = "000000" if sent["code"] != "000000" else "111111"
        err = self.assertGraphError(self.graph("POST", f"/{UNVERIFIED}/verify_code", token,
                                               form={"code": wrong}), 400, 136025)
        self.assertEqual(err["message"], "(#136025) Verify code error")
        self.assertEqual(self.phone_fields(token, UNVERIFIED, "code_verification_status")
                         ["code_verification_status"], "NOT_VERIFIED")
        status, _, data = self.graph("POST", f"/{UNVERIFIED}/verify_code", token,
                                     json_body={"code": sent["code"]})
        self.assertEqual((status, data), (200, {"success": True}))
        self.assertEqual(self.phone_fields(token, UNVERIFIED, "code_verification_status")
                         ["code_verification_status"], "VERIFIED")
        status, _, _ = self.register(token, UNVERIFIED)
        self.assertEqual(status, 200)
        self.assertEqual(self.phone_fields(token, UNVERIFIED, "status,platform_type"),
                         {"id": UNVERIFIED, "status": "CONNECTED", "platform_type": "CLOUD_API"})
        # An expired code is refused like a wrong one.
        self.graph("POST", f"/{UNVERIFIED}/request_code", token,
                   params={"code_method": "SMS", "language": "en_US"})
        code = self.number_state(UNVERIFIED)["verification"]["code"]
        self.control("POST", "/_sandbox/numbers/update", {
            "phone_number_id": UNVERIFIED, "code_verification_status": "EXPIRED"})
        self.assertGraphError(self.register(token, UNVERIFIED), 400, 133006)
        status, _, _ = self.graph("POST", f"/{UNVERIFIED}/verify_code", token,
                                  form={"code": code})
        self.assertEqual(status, 200)
        reqs = [r["endpoint"] for r in self.control("GET", "/_sandbox/requests")["requests"]]
        self.assertIn("request_code", reqs)
        self.assertIn("verify_code", reqs)

    def test_display_name_pending_then_approved(self):
        token = self.user_token(scenario="all_states")
        err = self.assertGraphError(self.register(token, NAME_PENDING), 400, 100, 2388001,
                                    "OAuthException")
        self.assertEqual(err["error_user_title"], "Cannot Create Certificate")
        self.assertIn("display name", err["error_user_msg"])
        self.assertIs(err["is_transient"], False)
        self.assertEqual(self.phone_fields(token, NAME_PENDING, "name_status")["name_status"],
                         "PENDING_REVIEW")
        self.assertEqual(self.call("POST", "/_sandbox/numbers/update", json_body={
            "phone_number_id": NAME_PENDING, "name_status": "MAYBE"})[0], 400)
        self.assertEqual(self.call("POST", "/_sandbox/numbers/update", json_body={
            "phone_number_id": "42", "name_status": "APPROVED"})[0], 400)
        out = self.control("POST", "/_sandbox/numbers/update",
                           {"phone_number_id": NAME_PENDING, "name_status": "APPROVED"})
        self.assertEqual(out["name_status"], "APPROVED")
        status, _, _ = self.register(token, NAME_PENDING)
        self.assertEqual(status, 200)

    def test_number_still_on_another_account(self):
        token = self.user_token(scenario="all_states")
        err = self.assertGraphError(self.register(token, ELSEWHERE), 400, 100, 2388001)
        self.assertEqual(err["error_user_title"], "Cannot Create Certificate")
        self.assertIn("registered to an existing WhatsApp account", err["error_user_msg"])
        self.control("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": ELSEWHERE, "in_use_elsewhere": False})
        self.assertEqual(self.register(token, ELSEWHERE)[0], 200)

    def test_register_limit_deregister_and_pin(self):
        token = self.user_token()
        self.control("POST", "/_sandbox/config", {"register_limit": 2})
        self.assertEqual(self.register(token)[0], 200)
        status, _, data = self.graph("POST", f"/{PHONE_1}/deregister", token)
        self.assertEqual((status, data), (200, {"success": True}))
        self.assertEqual(self.phone_fields(token, PHONE_1, "platform_type,status"),
                         {"id": PHONE_1, "platform_type": "NOT_APPLICABLE",
                          "status": "DISCONNECTED"})
        err = self.assertGraphError(self.register(token), 400, 133016)
        self.assertEqual(err["message"],
                         "(#133016) Account register deregister rate limit exceeded")
        self.assertIn("too many attempts", err["error_data"]["details"])
        self.assertFalse(self.number_state(PHONE_1)["registered"])
        self.assertGraphError(self.graph("POST", f"/{PHONE_1}/deregister", token), 400, 133016)
        self.control("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": PHONE_1, "register_calls": []})
        self.assertEqual(self.register(token)[0], 200)
        self.control("POST", "/_sandbox/config", {"register_limit": None})

        # Two-step verification: POST /{phone} with pin sets a new PIN, which
        # replaces one the merchant forgot (config pins plays that PIN).
        self.control("POST", "/_sandbox/config", {"pins": {PHONE_2: "654321"}})
        self.assertGraphError(self.register(token, PHONE_2, "123456"), 400, 133005)
        self.assertGraphError(self.graph("POST", f"/{PHONE_2}", token, form={"pin": "12"}),
                              400, 100)
        self.assertGraphError(self.graph("POST", f"/{PHONE_2}", token, form={}), 400, 100)
        status, _, data = self.graph("POST", f"/{PHONE_2}", token,
                                     json_body={"pin": "246810"})
        self.assertEqual((status, data), (200, {"success": True}))
        self.assertTrue(self.phone_fields(token, PHONE_2, "is_pin_enabled")["is_pin_enabled"])
        self.assertGraphError(self.register(token, PHONE_2, "654321"), 400, 133005)
        self.assertEqual(self.register(token, PHONE_2, "246810")[0], 200)
        reqs = self.control("GET", "/_sandbox/requests", params={"endpoint": "set_pin"})
        self.assertEqual(len(reqs["requests"]), 3)

    def test_injected_onboarding_errors(self):
        token = self.user_token(scenario="all_states")
        cases = [("register", "133005", 133005, None), ("register", "133006", 133006, None),
                 ("register", "133016", 133016, None), ("register", "2388001", 100, 2388001),
                 ("request_code", "136024", 136024, None),
                 ("verify_code", "136025", 136025, None),
                 ("deregister", "133016", 133016, None),
                 ("smb_app_data", "500", 2, None), ("set_pin", "429", 80007, None)]
        calls = {"register": lambda: self.register(token),
                 "request_code": lambda: self.graph("POST", f"/{PHONE_1}/request_code", token,
                                                    params={"code_method": "SMS",
                                                            "language": "en_US"}),
                 "verify_code": lambda: self.graph("POST", f"/{PHONE_1}/verify_code", token,
                                                   form={"code": "123456"}),
                 "deregister": lambda: self.graph("POST", f"/{PHONE_1}/deregister", token),
                 "smb_app_data": lambda: self.graph("POST", f"/{PHONE_1}/smb_app_data", token,
                                                    json_body={"messaging_product": "whatsapp",
                                                               "sync_type": "history"}),
                 "set_pin": lambda: self.graph("POST", f"/{PHONE_1}", token,
                                               form={"pin": "123456"})}
        for endpoint, error, code, subcode in cases:
            with self.subTest(endpoint=endpoint, error=error):
                self.control("POST", "/_sandbox/inject", {"endpoint": endpoint,
                                                          "error": error})
                status = 429 if error == "429" else 500 if error == "500" else 400
                self.assertGraphError(calls[endpoint](), status, code, subcode)
        err = None
        self.control("POST", "/_sandbox/inject", {"endpoint": "register", "error": "2388001",
                                                  "variant": "in_use"})
        err = self.assertGraphError(self.register(token), 400, 100, 2388001)
        self.assertIn("existing WhatsApp account", err["error_user_msg"])
        self.assertEqual(self.call("POST", "/_sandbox/inject", json_body={
            "endpoint": "register", "error": "2388001", "variant": "nope"})[0], 400)
        # Nothing was registered by the injected failures; the next call works.
        self.assertFalse(self.number_state(PHONE_1)["registered"])
        self.assertEqual(self.register(token)[0], 200)

    # -- coexistence --------------------------------------------------------------

    def smb_sync(self, token, sync_type, phone=COEX):
        return self.graph("POST", f"/{phone}/smb_app_data", token, json_body={
            "messaging_product": "whatsapp", "sync_type": sync_type})

    def hook_value(self, field):
        payload = json.loads(self.next_hook()[1])
        change = payload["entry"][0]["changes"][0]
        self.assertEqual(change["field"], field)
        return payload["entry"][0]["id"], change["value"]

    def test_coexistence_no_register_and_sync_once(self):
        token = self.user_token(scenario="coexistence")
        err = self.assertGraphError(self.register(token, COEX), 400, 100, 2388001)
        self.assertIn("existing WhatsApp account", err["error_user_msg"])
        # Already on Cloud API: messages go out without register.
        status, _, _ = self.graph("POST", f"/{COEX}/messages", token, json_body={
            "messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
            "text": {"body": "hello from the API"}})
        self.assertEqual(status, 200)
        self.subscribe(WABA_4)
        self.assertGraphError(self.smb_sync(token, "contacts"), 400, 100)
        self.assertGraphError(self.graph("POST", f"/{COEX}/smb_app_data", token, json_body={
            "sync_type": "history"}), 400, 100)
        self.assertTrue(self.receiver.got.empty())

        status, _, data = self.smb_sync(token, "smb_app_state_sync")
        self.assertEqual(status, 200, data)
        self.assertEqual(data["messaging_product"], "whatsapp")
        self.assertRegex(data["request_id"], r"^[0-9a-f]{32}$")
        waba, value = self.hook_value("smb_app_state_sync")
        self.assertEqual(waba, WABA_4)
        self.assertEqual(value["metadata"], {"display_phone_number": "15550106",
                                             "phone_number_id": COEX})
        first = value["state_sync"][0]
        self.assertEqual((first["type"], first["action"]), ("contact", "add"))
        self.assertEqual(first["contact"], {"full_name": "Sheena Nelson",
                                            "first_name": "Sheena",
                                            "phone_number": CUSTOMER})
        err = self.assertGraphError(self.smb_sync(token, "smb_app_state_sync"), 400, 100)
        self.assertIn("only be performed once", err["error_data"]["details"])

        status, _, _ = self.smb_sync(token, "history")
        self.assertEqual(status, 200)
        phases = []
        for _ in range(3):
            _, value = self.hook_value("history")
            chunk = value["history"][0]
            phases.append((chunk["metadata"]["phase"], chunk["metadata"]["progress"]))
            thread = chunk["threads"][0]
            self.assertEqual(thread["id"], CUSTOMER)
            mine = [m for m in thread["messages"] if m["from"] == "15550106"]
            self.assertEqual(mine[0]["to"], CUSTOMER)
            self.assertIn("status", mine[0]["history_context"])
        self.assertEqual(phases, [(0, 33), (1, 67), (2, 100)])
        self.assertGraphError(self.smb_sync(token, "history"), 400, 100)
        state = self.number_state(COEX)["smb_sync"]
        self.assertEqual(set(state), {"smb_app_state_sync", "history"})
        # A number that is not on the Business app has nothing to sync.
        other = self.user_token()
        err = self.assertGraphError(self.smb_sync(other, "history", PHONE_1), 400, 100)
        self.assertIn("WhatsApp Business app", err["error_data"]["details"])
        # The control API can allow it again (as a new onboarding would).
        self.control("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": COEX, "smb_sync": {}})
        self.assertEqual(self.smb_sync(token, "history")[0], 200)
        for _ in range(3):
            self.hook_value("history")

    def test_coexistence_webhooks_on_demand(self):
        self.subscribe(WABA_4)
        out = self.control("POST", "/_sandbox/webhook", {"kind": "smb_message_echoes",
                                                         "phone_number_id": COEX,
                                                         "to": "+44 7700 900123",
                                                         "text": "see you at 5"})
        self.assertEqual(out["responses"], [200])
        _, value = self.hook_value("smb_message_echoes")
        echo = value["message_echoes"][0]
        self.assertEqual((echo["from"], echo["to"], echo["type"], echo["text"]["body"]),
                         ("15550106", "447700900123", "text", "see you at 5"))
        self.assertTrue(echo["id"].startswith("wamid."))
        self.control("POST", "/_sandbox/webhook", {"kind": "history", "phone_number_id": COEX,
                                                   "shared": False})
        _, value = self.hook_value("history")
        self.assertEqual(value["history"][0]["errors"][0]["code"], 2593109)
        self.control("POST", "/_sandbox/webhook", {"kind": "history", "phone_number_id": COEX,
                                                   "phase": 1})
        _, value = self.hook_value("history")
        self.assertEqual(value["history"][0]["metadata"],
                         {"phase": 1, "chunk_order": 1, "progress": 100})
        self.control("POST", "/_sandbox/webhook", {"kind": "smb_app_state_sync",
                                                   "phone_number_id": COEX,
                                                   "action": "remove"})
        _, value = self.hook_value("smb_app_state_sync")
        self.assertEqual(value["state_sync"][0]["action"], "remove")
        self.assertEqual(self.call("POST", "/_sandbox/webhook", json_body={
            "kind": "history", "phase": 5, "phone_number_id": COEX})[0], 400)
        # The business declined to share; or the sandbox sends nothing at all.
        token = self.user_token(scenario="coexistence")
        self.control("POST", "/_sandbox/config", {"history_sharing": False})
        self.assertEqual(self.smb_sync(token, "history")[0], 200)
        _, value = self.hook_value("history")
        self.assertEqual(value["history"][0]["errors"][0]["code"], 2593109)
        self.control("POST", "/_sandbox/config", {"smb_sync_webhooks": False})
        self.assertEqual(self.smb_sync(token, "smb_app_state_sync")[0], 200)
        time.sleep(0.6)
        self.assertTrue(self.receiver.got.empty())

    # -- the JS SDK stand-in and its Embedded Signup popup ---------------------------

    def es_query(self, **extra):
        q = {"client_id": APP_ID, "config_id": "987654321", "response_type": "code",
             "override_default_response_type": "true",
             "extras": json.dumps({"setup": {}, "sessionInfoVersion": "3"}),
             "origin": APP_ORIGIN, "display": "popup"}
        q.update(extra)
        return q

    def es_decide(self, **extra):
        status, headers, page = self.call("GET", "/v25.0/dialog/embedded_signup/decide",
                                          params=self.es_query(**extra))
        self.assertEqual(status, 200, page)
        self.assertEqual(headers["cache-control"], "no-store")
        m = re.search(r'<script type="application/json" id="es-result">(.*?)</script>',
                      page, re.S)
        self.assertTrue(m, page)
        result = json.loads(m.group(1))
        self.assertEqual(result["origin"], APP_ORIGIN)
        self.assertEqual(result["session"]["type"], "WA_EMBEDDED_SIGNUP")
        return result["session"], result["login"]

    def test_sdk_js(self):
        for path in ("/sdk.js", "/en_US/sdk.js"):
            status, headers, body = self.call("GET", path)
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("application/javascript"))
            self.assertEqual(headers["access-control-allow-origin"], "*")
            self.assertIn("window.FB", body)
            self.assertIn(json.dumps(f"http://127.0.0.1:{self.port}"), body)
            self.assertIn("/dialog/embedded_signup?", body)
            self.assertIn("fbAsyncInit", body)
        reqs = self.control("GET", "/_sandbox/requests", params={"endpoint": "sdk"})
        self.assertEqual(len(reqs["requests"]), 2)
        if shutil.which("node"):  # at least, it parses
            r = subprocess.run(["node", "--check", "-"], input=body, text=True,
                               capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_es_dialog_page_and_refusals(self):
        status, headers, page = self.call("GET", "/v25.0/dialog/embedded_signup",
                                          params=self.es_query())
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        form = FormParser()
        form.feed(page)
        self.assertEqual(form.action, "/v25.0/dialog/embedded_signup/decide")
        for button, value in (("finish", "finish"), ("finish-only-waba", "finish_only_waba"),
                              ("cancel", "cancel"), ("report-error", "report_error"),
                              ("change", "change")):
            self.assertEqual(form.buttons[button], ("outcome", value))
        self.assertEqual(form.selects["phone_number_id"], [PHONE_1, PHONE_2])
        self.assertEqual(form.selects["waba_id"], [WABA_1])
        self.assertIn("PHONE_NUMBER_SETUP", form.selects["current_step"])
        self.assertEqual(form.hidden["origin"], APP_ORIGIN)
        # "Change" shows the dialog again with another scenario's assets.
        status, headers, _ = self.call("GET", "/v25.0/dialog/embedded_signup/decide",
                                       params=self.es_query(outcome="change",
                                                            scenario="all_states"))
        self.assertEqual(status, 302)
        _, _, page = self.call("GET", headers["location"])
        form = FormParser()
        form.feed(page)
        self.assertEqual(form.selects["phone_number_id"],
                         [PHONE_1, PHONE_2, PHONE_3, UNVERIFIED, NAME_PENDING, ELSEWHERE])
        # featureType whatsapp_business_app_onboarding: the Business app number.
        _, _, page = self.call("GET", "/v25.0/dialog/embedded_signup", params=self.es_query(
            extras=json.dumps({"setup": {}, "featureType": "whatsapp_business_app_onboarding",
                               "sessionInfoVersion": "3"})))
        self.assertIn("Connect your WhatsApp Business app", page)
        form = FormParser()
        form.feed(page)
        self.assertEqual(form.selects["phone_number_id"], [COEX])
        for bad, text in ((dict(client_id="42"), "Invalid App ID"),
                          (dict(override_default_response_type=""), "response_type"),
                          (dict(response_type="token"), "response_type"),
                          (dict(origin="javascript:alert(1)"), "Invalid origin"),
                          (dict(extras="[1"), "Invalid extras")):
            with self.subTest(bad=bad):
                status, _, page = self.call("GET", "/v25.0/dialog/embedded_signup",
                                            params=self.es_query(**bad))
                self.assertEqual(status, 400)
                self.assertIn(text, page)
                self.assertNotIn('id="finish"', page)

    def test_es_finish_code_exchanges_without_redirect_uri(self):
        session, login = self.es_decide(outcome="finish", phone_number_id=PHONE_2)
        self.assertEqual(session, {"data": {"phone_number_id": PHONE_2, "waba_id": WABA_1,
                                            "business_id": BUSINESS_ID},
                                   "type": "WA_EMBEDDED_SIGNUP", "event": "FINISH"})
        self.assertEqual(login["status"], "connected")
        code = login["authResponse"]["code"]
        self.assertTrue(code.startswith("AQ"))
        params = {"client_id": APP_ID, "client_secret": APP_SECRET, "code": code}
        status, _, data = self.call("GET", "/v25.0/oauth/access_token", params=params)
        self.assertEqual(status, 200, data)
        info = self.debug(data["access_token"])
        targets = {g["scope"]: g.get("target_ids") for g in info["granular_scopes"]}
        self.assertEqual(targets["whatsapp_business_management"], [WABA_1])
        self.assertGraphError(self.call("GET", "/v25.0/oauth/access_token", params=params),
                              400, 100, 36009)
        # The redirect flow's redirect_uri does not fit a popup's code; an
        # empty one does, as no redirect_uri does.
        _, login = self.es_decide(outcome="finish", phone_number_id=PHONE_1)
        self.assertGraphError(self.exchange(login["authResponse"]["code"]), 400, 100, 36008)
        _, login = self.es_decide(outcome="finish", phone_number_id=PHONE_1)
        status, _, _ = self.call("POST", "/v25.0/oauth/access_token", form=dict(
            params, code=login["authResponse"]["code"], redirect_uri=""))
        self.assertEqual(status, 200)
        # Meta's Embedded Signup code lives 30 seconds (config sdk_code_ttl).
        codes = self.control("GET", "/_sandbox/state")["codes"]
        sdk = [c for c in codes if c["flow"] == "sdk"]
        self.assertTrue(all(c["expires_at"] - c["created_at"] == 30 for c in sdk))
        self.control("POST", "/_sandbox/config", {"sdk_code_ttl": 1})
        _, login = self.es_decide(outcome="finish", phone_number_id=PHONE_1)
        time.sleep(1.1)
        self.assertGraphError(self.call("GET", "/v25.0/oauth/access_token", params=dict(
            params, code=login["authResponse"]["code"])), 400, 100, 36007)

    def test_es_other_outcomes(self):
        count = lambda: len(self.control("GET", "/_sandbox/state")["codes"])  # noqa: E731
        session, login = self.es_decide(outcome="finish_only_waba", scenario="two_wabas",
                                        waba_id=WABA_2)
        self.assertEqual(session["event"], "FINISH_ONLY_WABA")
        self.assertEqual(session["data"], {"waba_id": WABA_2, "business_id": BUSINESS_ID,
                                           "waba_ids": [WABA_1, WABA_2]})
        status, _, data = self.call("GET", "/v25.0/oauth/access_token", params={
            "client_id": APP_ID, "client_secret": APP_SECRET,
            "code": login["authResponse"]["code"]})
        self.assertEqual(status, 200, data)
        before = count()
        session, login = self.es_decide(outcome="cancel", current_step="PERMISSIONS")
        self.assertEqual(session, {"data": {"current_step": "PERMISSIONS"},
                                   "type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL"})
        self.assertEqual(login, {"authResponse": None, "status": "unknown"})
        session, login = self.es_decide(outcome="report_error")
        self.assertEqual(session["event"], "CANCEL")
        self.assertEqual(set(session["data"]), {"error_message", "error_code", "session_id",
                                                "timestamp"})
        self.assertIsNone(login["authResponse"])
        session, _ = self.es_decide(outcome="error", error_message="Something broke")
        self.assertEqual((session["event"], session["data"]["error_message"]),
                         ("ERROR", "Something broke"))
        self.assertEqual(count(), before)  # no code for a flow that did not finish

        coex = json.dumps({"setup": {}, "featureType": "whatsapp_business_app_onboarding",
                           "sessionInfoVersion": "3"})
        session, login = self.es_decide(outcome="finish", extras=coex, phone_number_id=COEX)
        self.assertEqual(session["event"], "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING")
        self.assertEqual(session["data"], {"phone_number_id": COEX, "waba_id": WABA_4,
                                           "business_id": BUSINESS_ID})
        self.assertTrue(login["authResponse"]["code"])
        for bad in (dict(extras=coex, phone_number_id=PHONE_1),
                    dict(scenario="coexistence", phone_number_id=COEX),
                    dict(phone_number_id=PHONE_3), dict(outcome="cancel", current_step="X"),
                    dict(outcome="finish_only_waba", waba_id=WABA_2), dict(outcome="x")):
            with self.subTest(bad=bad):
                q = dict({"outcome": "finish"}, **bad)
                status, _, _ = self.call("GET", "/v25.0/dialog/embedded_signup/decide",
                                         params=self.es_query(**q))
                self.assertEqual(status, 400)


    # -- media and resumable uploads ------------------------------------------

    def raw(self, method, path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def multipart(self, token, fields, file=None, phone=PHONE_1):
        b = "----sandboxboundary"
        parts = []
        for k, v in fields.items():
            parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                         f'{v}\r\n'.encode())
        if file is not None:
            name, ctype, data = file
            parts.append(f'--{b}\r\nContent-Disposition: form-data; name="file"; '
                         f'filename="{name}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
                         + data + b"\r\n")
        body = b"".join(parts) + f"--{b}--\r\n".encode()
        return self.raw("POST", f"/v25.0/{phone}/media?appsecret_proof={proof(token)}", body,
                        {"Authorization": f"Bearer {token}",
                         "Content-Type": f"multipart/form-data; boundary={b}"})

    def test_media_upload_multipart(self):
        token = self.user_token()
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
        status, _, data = self.multipart(token, {"messaging_product": "whatsapp",
                                                 "type": "image/png"},
                                         ("a.png", "image/png", png))
        self.assertEqual(status, 200, data)
        mid = data["id"]
        self.assertTrue(mid.isdigit())
        req = self.control("GET", "/_sandbox/requests", params={"endpoint": "media"})
        f = req["requests"][-1]["files"]["file"]
        self.assertEqual((f["size"], f["sha256"], f["type"]),
                         (len(png), hashlib.sha256(png).hexdigest(), "image/png"))
        status, _, obj = self.graph("GET", f"/{mid}", token, bearer=True)
        self.assertEqual(status, 200, obj)
        self.assertEqual((obj["mime_type"], obj["file_size"], obj["sha256"]),
                         ("image/png", len(png), hashlib.sha256(png).hexdigest()))
        # Meta's refusals: each parameter, an unsupported type, a size over the limit.
        self.assertGraphError(self.multipart(token, {"type": "image/png"},
                                             ("a.png", "image/png", png)), 400, 100)
        self.assertGraphError(self.multipart(token, {"messaging_product": "whatsapp"},
                                             ("a.png", "image/png", png)), 400, 100)
        self.assertGraphError(self.multipart(token, {"messaging_product": "whatsapp",
                                                     "type": "image/png"}), 400, 100)
        self.assertGraphError(self.multipart(token, {"messaging_product": "whatsapp",
                                                     "type": "image/gif"},
                                             ("a.gif", "image/gif", b"GIF89a")), 400, 131053)
        big = b"\0" * ((500 << 10) + 1)
        self.assertGraphError(self.multipart(token, {"messaging_product": "whatsapp",
                                                     "type": "image/webp"},
                                             ("s.webp", "image/webp", big)), 400, 131053)
        self.control("POST", "/_sandbox/inject", {"endpoint": "media", "error": "131053"})
        self.assertGraphError(self.multipart(token, {"messaging_product": "whatsapp",
                                                     "type": "image/png"},
                                             ("a.png", "image/png", png)), 400, 131053)

    def upload_session(self, token, **over):
        params = {"file_name": "head.png", "file_length": "10", "file_type": "image/png",
                  "appsecret_proof": proof(token)}
        params.update(over)
        return self.raw("POST", f"/v25.0/{APP_ID}/uploads?" + urllib.parse.urlencode(params),
                        b"", {"Authorization": f"Bearer {token}"})

    def upload_post(self, token, sid, data, offset, scheme="OAuth"):
        path, _, sig = sid.partition("?")
        return self.raw("POST", f"/v25.0/{path}?{sig}&appsecret_proof={proof(token)}", data,
                        {"Authorization": f"{scheme} {token}", "file_offset": str(offset),
                         "Content-Type": "image/png"})

    def test_resumable_upload_session_data_and_offset(self):
        token = self.user_token()
        data = b"0123456789"
        status, _, sess = self.upload_session(token)
        self.assertEqual(status, 200, sess)
        sid = sess["id"]
        self.assertTrue(sid.startswith("upload:") and "?sig=" in sid, sid)
        # Meta's rules: the token only as "Authorization: OAuth", the right offset.
        self.assertGraphError(self.upload_post(token, sid, data, 0, scheme="Bearer"), 400, 100)
        self.assertGraphError(self.upload_post(token, sid, data, 3), 400, 100)
        self.control("POST", "/_sandbox/inject", {"endpoint": "upload_data",
                                                  "error": "partial"})
        status, _, _ = self.upload_post(token, sid, data, 0)
        self.assertEqual(status, 504)
        path, _, sig = sid.partition("?")
        status, _, got = self.raw("GET", f"/v25.0/{path}?{sig}&appsecret_proof={proof(token)}",
                                  None, {"Authorization": f"OAuth {token}"})
        self.assertEqual((status, got), (200, {"id": sid, "file_offset": 5}))
        status, _, done = self.upload_post(token, sid, data[5:], 5)
        self.assertEqual(status, 200, done)
        self.assertTrue(done["h"].startswith("4::"), done)
        up = self.control("GET", "/_sandbox/state")["uploads"][sid]
        self.assertEqual(up["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual([p["file_offset"] for p in up["posts"]], [0, 5])
        # The session's own refusals, and injection on each endpoint.
        self.assertGraphError(self.upload_session(token, file_type="image/gif"), 400, 100)
        self.assertGraphError(self.upload_session(token, file_length="0"), 400, 100)
        for ep in ("uploads", "upload_status", "upload_data"):
            with self.subTest(endpoint=ep):
                self.control("POST", "/_sandbox/inject", {"endpoint": ep, "error": "500"})
                status, _, s2 = self.upload_session(token) if ep == "uploads" else (
                    self.raw("GET", f"/v25.0/{path}?{sig}&appsecret_proof={proof(token)}",
                             None, {"Authorization": f"OAuth {token}"})
                    if ep == "upload_status" else self.upload_post(token, sid, b"x", 10))
                self.assertEqual(status, 500, s2)
                self.control("POST", "/_sandbox/inject/clear")


    # -- message templates (issue 11) -----------------------------------------

    TPL = {"name": "order_update", "language": "en_US", "category": "UTILITY",
           "components": [{"type": "BODY", "text": "Your order {{1}} has shipped."}]}

    def create_template(self, token, **over):
        return self.graph("POST", f"/{WABA_1}/message_templates", token, bearer=True,
                          json_body=dict(self.TPL, **over))

    def test_template_create_list_filters_and_paging(self):
        token = self.user_token()
        status, _, data = self.create_template(token)
        self.assertEqual(status, 200, data)
        self.assertEqual((data["status"], data["category"]), ("PENDING", "UTILITY"))
        self.assertRegex(data["id"], r"^\d{15}$")
        for i in range(4):
            self.assertEqual(self.create_template(token, name=f"promo_{i}",
                                                  category="MARKETING")[0], 200)
        status, _, page = self.graph("GET", f"/{WABA_1}/message_templates", token,
                                     params={"limit": "2"})
        self.assertEqual(status, 200, page)
        self.assertEqual([t["name"] for t in page["data"]], ["order_update", "promo_0"])
        self.assertEqual(sorted(page["data"][0]),
                         sorted(["name", "parameter_format", "components", "language",
                                 "status", "category", "id"]))
        self.assertIn("next", page["paging"])
        seen = [t["name"] for t in page["data"]]
        while "next" in page["paging"]:
            status, _, page = self.graph(
                "GET", f"/{WABA_1}/message_templates", token,
                params={"limit": "2", "after": page["paging"]["cursors"]["after"]})
            seen += [t["name"] for t in page["data"]]
        self.assertEqual(seen, ["order_update"] + [f"promo_{i}" for i in range(4)])
        _, _, page = self.graph("GET", f"/{WABA_1}/message_templates", token,
                                params={"name": "promo", "fields": "name,status,rejected_reason"})
        self.assertEqual(len(page["data"]), 4)
        self.assertEqual(page["data"][0]["rejected_reason"], "NONE")
        _, _, page = self.graph("GET", f"/{WABA_1}/message_templates", token,
                                params={"status": "APPROVED"})
        self.assertEqual(page["data"], [])
        self.assertGraphError(self.graph("GET", f"/{WABA_1}/message_templates", token,
                                         params={"status": "GREEN"}), 400, 100)
        # Another WABA's list is its own.
        _, _, page = self.graph("GET", f"/{WABA_2}/message_templates",
                                self.user_token("two_wabas"))
        self.assertEqual(page["data"], [])

    def test_template_validation_errors_as_meta(self):
        token = self.user_token()
        self.assertGraphError(self.create_template(token, name="Order-Update"), 400, 100,
                              2388043)
        self.assertGraphError(self.create_template(token, category="TRANSACTIONAL"), 400,
                              100)
        self.assertGraphError(self.create_template(token, components=[]), 400, 100)
        self.assertGraphError(self.create_template(token, components=[{"type": "FOOTER"}]),
                              400, 100)
        self.assertEqual(self.create_template(token)[0], 200)
        r = self.create_template(token)
        self.assertGraphError(r, 400, 100, 2388024)
        self.assertIn("English (US)", r[2]["error"]["error_user_msg"])
        # Another language of the same name is another template.
        self.assertEqual(self.create_template(token, language="de")[0], 200)
        self.assertEqual(len(self.control("GET", "/_sandbox/state")["templates"]), 2)

    def test_template_delete_by_name_or_hsm_id(self):
        token = self.user_token()
        ids = [self.create_template(token, language=lang)[2]["id"]
               for lang in ("en_US", "de", "fr")]
        path = f"/{WABA_1}/message_templates"
        status, _, data = self.graph("DELETE", path, token, bearer=True,
                                     params={"name": "order_update", "hsm_id": ids[1]})
        self.assertEqual((status, data), (200, {"success": True}))
        left = self.control("GET", "/_sandbox/state")["templates"]
        self.assertEqual(sorted(t["language"] for t in left), ["en_US", "fr"])
        # A language being deleted cannot be made again (2388023).
        self.assertGraphError(self.create_template(token, language="de"), 400, 100, 2388023)
        status, _, _ = self.graph("DELETE", path, token, bearer=True,
                                  params={"name": "order_update"})
        self.assertEqual(status, 200)
        self.assertEqual(self.control("GET", "/_sandbox/state")["templates"], [])
        self.assertGraphError(self.graph("DELETE", path, token, bearer=True,
                                         params={"name": "order_update"}), 400, 100, 2593002)
        reqs = self.control("GET", "/_sandbox/requests",
                            params={"endpoint": "delete_template"})["requests"]
        self.assertEqual([r["method"] for r in reqs], ["DELETE"] * 3)

    def test_template_review_sends_signed_status_webhook(self):
        self.subscribe()
        token = self.user_token()
        tid = self.create_template(token)[2]["id"]
        out = self.control("POST", "/_sandbox/templates/status",
                           {"template_id": tid, "event": "APPROVED"})
        self.assertEqual((out["sent"], out["responses"]), (1, [200]))
        headers, raw = self.next_hook()
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        self.assertEqual(headers["X-Hub-Signature-256"], expected)
        change = json.loads(raw)["entry"][0]["changes"][0]
        self.assertEqual(change["field"], "message_template_status_update")
        self.assertEqual(change["value"], {
            "event": "APPROVED", "message_template_id": int(tid),
            "message_template_name": "order_update", "message_template_language": "en_US",
            "reason": "NONE", "message_template_category": "UTILITY"})
        _, _, page = self.graph("GET", f"/{WABA_1}/message_templates", token)
        self.assertEqual(page["data"][0]["status"], "APPROVED")
        # Rejected with a reason, by name; then disabled (with disable_info).
        out = self.control("POST", "/_sandbox/templates/status",
                           {"name": "order_update", "event": "REJECTED",
                            "reason": "PROMOTIONAL"})
        value = json.loads(self.next_hook()[1])["entry"][0]["changes"][0]["value"]
        self.assertEqual((value["event"], value["reason"]), ("REJECTED", "PROMOTIONAL"))
        self.assertEqual(out["template"]["rejected_reason"], "PROMOTIONAL")
        self.control("POST", "/_sandbox/templates/status",
                     {"template_id": tid, "event": "DISABLED"})
        value = json.loads(self.next_hook()[1])["entry"][0]["changes"][0]["value"]
        self.assertIn("disable_date", value["disable_info"])
        for bad in ({"template_id": tid, "event": "LOVED"},
                    {"template_id": tid, "event": "REJECTED", "reason": "UGLY"},
                    {"template_id": "1", "event": "APPROVED"}):
            status, _, _ = self.call("POST", "/_sandbox/templates/status", json_body=bad)
            self.assertIn(status, (400, 404), bad)

    def test_template_error_injection_per_endpoint(self):
        token = self.user_token()
        path = f"/{WABA_1}/message_templates"
        for endpoint, method in (("message_templates", "GET"), ("create_template", "POST"),
                                 ("delete_template", "DELETE")):
            self.control("POST", "/_sandbox/inject", {"endpoint": endpoint, "error": "190"})
            r = self.graph(method, path, token, bearer=True,
                           json_body=self.TPL if method == "POST" else None,
                           params={"name": "order_update"} if method == "DELETE" else None)
            self.assertGraphError(r, 400, 190, 463)
        self.control("POST", "/_sandbox/inject", {"endpoint": "create_template",
                                                  "error": "429"})
        self.assertGraphError(self.create_template(token), 400, 4)
        # Nothing was made by the injected failures.
        self.assertEqual(self.control("GET", "/_sandbox/state")["templates"], [])

    # -- Meta's limits on sends (/_sandbox/limits) -----------------------------------

    def sender_token(self, *phones):
        token = self.user_token()
        for phone in phones:
            self.assertEqual(self.register(token, phone)[0], 200)
        return token

    def send(self, token, to, phone=PHONE_1, text="hi"):
        return self.graph("POST", f"/{phone}/messages", token, bearer=True, json_body={
            "messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}})

    def test_limits_are_off_until_set_and_after_reset(self):
        off = {"per_number_mps": None, "pair_interval_ms": None, "send_delay_ms": 0,
               "http_status": 400, "rejected": {"130429": 0, "131056": 0}}
        self.assertEqual(self.control("GET", "/_sandbox/limits"), off)
        got = self.control("POST", "/_sandbox/limits", {"per_number_mps": 5,
                                                         "pair_interval_ms": 250})
        self.assertEqual(got, dict(off, per_number_mps=5, pair_interval_ms=250))
        self.assertEqual(self.control("POST", "/_sandbox/limits", {"send_delay_ms": 10}),
                         dict(got, send_delay_ms=10))
        for bad in ({"per_number_mps": 0}, {"per_number_mps": "5"}, {"pair_interval_ms": True},
                    {"send_delay_ms": None}, {"send_delay_ms": 10001}, {"http_status": 500},
                    {"mps": 5}):
            with self.subTest(bad=bad):
                status, _, data = self.call("POST", "/_sandbox/limits", json_body=bad)
                self.assertEqual(status, 400, data)
        self.assertEqual(self.control("GET", "/_sandbox/limits")["per_number_mps"], 5)
        self.control("POST", "/_sandbox/reset")
        self.assertEqual(self.control("GET", "/_sandbox/limits"), off)
        # Off: a burst to one recipient is answered, every send of it.
        token = self.sender_token(PHONE_1)
        for i in range(30):
            self.assertEqual(self.send(token, CUSTOMER, text=f"burst {i}")[0], 200)

    def test_per_number_mps_answers_130429_for_that_number_only(self):
        token = self.sender_token(PHONE_1, PHONE_2)
        self.control("POST", "/_sandbox/sends/clear")
        self.control("POST", "/_sandbox/limits", {"per_number_mps": 3})
        t0 = time.monotonic()
        got = [self.send(token, f"4917000000{i:02d}", text=f"n{i}") for i in range(5)]
        self.assertLess(time.monotonic() - t0, 0.9, "too slow to test a one-second window")
        self.assertEqual([g[0] for g in got], [200, 200, 200, 400, 400])
        err = got[3][2]["error"]
        self.assertEqual({k: err[k] for k in ("message", "type", "code", "error_subcode",
                                              "error_data")},
                         {"message": "(#130429) Rate limit hit", "type": "OAuthException",
                          "code": 130429, "error_subcode": 2494055,
                          "error_data": {"messaging_product": "whatsapp",
                                         "details": "Message failed to send because there "
                                                    "were too many messages sent from this "
                                                    "phone number in a short period of time"}})
        self.assertTrue(err["fbtrace_id"])
        self.assertEqual(got[3][1]["x-fb-trace-id"], err["fbtrace_id"])
        # Another number has its own second.
        self.assertEqual(self.send(token, "491700000099", PHONE_2)[0], 200)
        # Refused sends are not Meta's messages, and do not count.
        self.assertEqual(len(self.control("GET", "/_sandbox/state")["messages"]), 4)
        sends = self.control("GET", "/_sandbox/sends")["sends"]
        self.assertEqual([(s["text"], s["status"], s["code"]) for s in sends],
                         [("n0", 200, None), ("n1", 200, None), ("n2", 200, None),
                          ("n3", 400, 130429), ("n4", 400, 130429), ("hi", 200, None)])
        time.sleep(max(0.0, t0 + 1.05 - time.monotonic()))
        self.assertEqual(self.send(token, "491700000098")[0], 200)
        self.assertEqual(self.control("GET", "/_sandbox/limits")["rejected"],
                         {"130429": 2, "131056": 0})
        # http_status 429: the same error, the other status Meta has used.
        self.control("POST", "/_sandbox/limits", {"per_number_mps": 1, "http_status": 429})
        time.sleep(1.05)
        self.assertEqual(self.send(token, "491700000097")[0], 200)
        self.assertGraphError(self.send(token, "491700000096"), 429, 130429, 2494055)

    def test_pair_interval_answers_131056_for_that_recipient_only(self):
        token = self.sender_token(PHONE_1, PHONE_2)
        self.control("POST", "/_sandbox/limits", {"pair_interval_ms": 400})
        self.assertEqual(self.send(token, CUSTOMER)[0], 200)
        t0 = time.monotonic()
        # The same person however the number is written.
        err = self.assertGraphError(self.send(token, "+1 650-555-1234"), 400, 131056)
        self.assertEqual(err["message"],
                         "(#131056) (Business Account, Consumer Account) pair rate limit hit")
        self.assertEqual(err["error_data"], {
            "messaging_product": "whatsapp",
            "details": "Message failed to send because there were too many messages sent "
                       "from this phone number to the same phone number in a short period "
                       "of time."})
        self.assertNotIn("error_subcode", err)
        self.assertEqual(self.send(token, "447700900123")[0], 200)  # another recipient
        self.assertEqual(self.send(token, CUSTOMER, PHONE_2)[0], 200)  # another number
        self.assertLess(time.monotonic() - t0, 0.35, "too slow to test a 400 ms interval")
        # The refused send did not restart the interval.
        time.sleep(max(0.0, t0 + 0.42 - time.monotonic()))
        self.assertEqual(self.send(token, CUSTOMER)[0], 200)
        self.assertEqual(self.control("GET", "/_sandbox/limits")["rejected"],
                         {"130429": 0, "131056": 1})

    def test_sends_are_answered_concurrently_after_send_delay_ms(self):
        token = self.sender_token(PHONE_1)
        self.control("POST", "/_sandbox/limits", {"send_delay_ms": 200})
        t0 = time.monotonic()
        self.assertEqual(self.send(token, CUSTOMER)[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)
        results, errors = [], []

        def one(i):
            try:
                start = time.monotonic()
                status = self.send(token, f"4917100000{i:02d}")[0]
                results.append((status, time.monotonic() - start))
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        self.assertEqual(sorted(r[0] for r in results), [200] * 20)
        self.assertTrue(all(r[1] >= 0.2 for r in results), results)
        # One after another they would take 20 x 200 ms = 4 s.
        self.assertLess(elapsed, 1.5)
        # Refused sends wait too (Meta's answer takes its time either way),
        # and a reset ends the waits in progress.
        self.control("POST", "/_sandbox/limits", {"pair_interval_ms": 3600000,
                                                   "send_delay_ms": 5000})
        t0 = time.monotonic()
        threading.Timer(0.3, lambda: self.control("POST", "/_sandbox/reset")).start()
        self.assertGraphError(self.send(token, CUSTOMER), 400, 131056)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertLess(time.monotonic() - t0, 3)


class SdkPopupTest(unittest.TestCase):
    """The SDK stand-in in a real browser (headless Chromium through the
    browser tests' Playwright, tests/browser): sdk_popup.mjs serves an app
    page on another origin, clicks FB.login and acts in the popup."""

    @classmethod
    def setUpClass(cls):
        cls.pw = os.path.join(HERE, "..", "browser")
        missing = [what for what, ok in (
            ("node", shutil.which("node")),
            ("chromium", os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium"))),
            ("playwright-core", os.path.isdir(os.path.join(cls.pw, "node_modules",
                                                            "playwright-core")))) if not ok]
        if missing:
            raise unittest.SkipTest("needs " + ", ".join(missing))
        cls.tmp = tempfile.TemporaryDirectory()
        secret = os.path.join(cls.tmp.name, "secret")
        with open(secret, "w") as f:
            f.write(APP_SECRET + "\n")
        cls.proc, cls.stderr, cls.port = start_sandbox(cls.tmp.name, secret, "http")

    @classmethod
    def tearDownClass(cls):
        stop_sandbox(cls.proc, cls.stderr)
        cls.tmp.cleanup()

    def control(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body or {}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def exchange(self, code):
        q = urllib.parse.urlencode({"client_id": APP_ID, "client_secret": APP_SECRET,
                                    "code": code})
        return self.control("GET", "/v25.0/oauth/access_token?" + q)

    def test_popup_flows_in_chromium(self):
        self.control("POST", "/_sandbox/reset")
        # The whole run takes longer than Meta's 30 seconds.
        self.assertEqual(self.control("POST", "/_sandbox/config", {"sdk_code_ttl": 600})[0],
                         200)
        env = dict(os.environ, SANDBOX_URL=f"http://127.0.0.1:{self.port}", APP_ID=APP_ID,
                   PLAYWRIGHT_DIR=self.pw)
        r = subprocess.run(["node", os.path.join(HERE, "sdk_popup.mjs")], env=env,
                           capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = {o["name"]: o for o in map(json.loads, r.stdout.splitlines())}
        events = {k: [e["event"] for e in v["events"]] for k, v in got.items()}
        self.assertEqual(events, {"finish": ["FINISH"],
                                  "coexistence": ["FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"],
                                  "only_waba": ["FINISH_ONLY_WABA"], "cancel": ["CANCEL"],
                                  "closed": ["CANCEL"]})
        self.assertEqual(got["finish"]["events"][0]["data"], {
            "phone_number_id": PHONE_2, "waba_id": WABA_1, "business_id": BUSINESS_ID})
        self.assertEqual(got["coexistence"]["events"][0]["data"]["phone_number_id"], COEX)
        self.assertEqual(got["cancel"]["events"][0]["data"], {"current_step": "PERMISSIONS"})
        self.assertEqual(got["closed"]["events"][0]["data"],
                         {"current_step": "PHONE_NUMBER_SETUP"})
        for name in ("finish", "coexistence", "only_waba"):
            with self.subTest(name=name):
                login = got[name]["login"]
                # The session event reached the page before the callback ran.
                self.assertEqual(login["events"], 1)
                self.assertEqual(login["response"]["status"], "connected")
                status, data = self.exchange(login["response"]["authResponse"]["code"])
                self.assertEqual(status, 200, data)
                self.assertTrue(data["access_token"].startswith("EAAG"))
        for name in ("cancel", "closed"):
            self.assertEqual(got[name]["login"]["response"],
                             {"authResponse": None, "status": "unknown"})
        _, state = self.control("GET", "/_sandbox/requests")
        dialogs = [q for q in state["requests"] if q["endpoint"] == "es_dialog"]
        self.assertEqual(len(dialogs), 5)
        self.assertEqual(json.loads(dialogs[1]["query"]["extras"])["featureType"],
                         "whatsapp_business_app_onboarding")


class SandboxTLSTest(unittest.TestCase):
    """--tls-cert/--tls-key: the same sandbox over https, with a test CA
    made here by the openssl CLI (no key is ever committed)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name

        def openssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=sandbox test CA", "-keyout", f"{d}/ca.key",
                "-out", f"{d}/ca.pem")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", f"{d}/srv.key", "-out", f"{d}/srv.csr")
        with open(f"{d}/ext.cnf", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.pem",
                "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", f"{d}/ext.cnf", "-out", f"{d}/srv.pem")
        with open(f"{d}/secret", "w") as f:
            f.write(APP_SECRET + "\n")
        cls.proc, cls.stderr, cls.port = start_sandbox(
            d, f"{d}/secret", "https", "--tls-cert", f"{d}/srv.pem",
            "--tls-key", f"{d}/srv.key")
        cls.ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")

    @classmethod
    def tearDownClass(cls):
        stop_sandbox(cls.proc, cls.stderr)
        cls.tmp.cleanup()

    def get(self, path, ctx):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def test_https_with_the_test_ca(self):
        status, body = self.get("/_sandbox/state", self.ctx)
        self.assertEqual(status, 200)
        self.assertIn(b'"wabas"', body)
        status, _ = self.get("/v25.0/debug_token?input_token=x", self.ctx)
        self.assertEqual(status, 400)
        status, body = self.get("/_sandbox/requests", self.ctx)
        self.assertEqual(json.loads(body)["requests"][-1]["scheme"], "https")

    def test_refused_without_the_ca_and_serving_on(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.get("/_sandbox/state", ssl.create_default_context())
        # A refused handshake is one log line, and the next client is served.
        status, _ = self.get("/_sandbox/state", self.ctx)
        self.assertEqual(status, 200)
        time.sleep(0.2)
        self.stderr.flush()
        with open(self.stderr.name) as f:
            log = f.read()
        self.assertNotIn("Traceback", log)

    def test_plain_http_is_not_served(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
                conn.request("GET", "/_sandbox/state")
                conn.getresponse().read()
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
