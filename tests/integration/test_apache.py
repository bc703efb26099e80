"""Apache 2.4 with mod_proxy_fcgi in front of the standalone pool (the
deployment of etc/apache-waba-connect.conf): the same app must behave
the same behind it as behind lighttpd, whatever Apache makes of
SCRIPT_NAME, PATH_INFO and request headers."""
import hashlib
import hmac
import json
import time

from base import StackCase
from client import hammer, request
from meta import (PHONE, WABA, Sandbox, csrf, settings_path, sign_in,
                  start_connect)

PW = "apache test password"
SLUG = "apache"


class BehindApache(StackCase):
    web = "apache"
    sandbox = True
    workers = 2

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Apache Shop")
        cls.st.admin("user", "add", SLUG, "a@apache.example", input=PW + "\n")

    def test_healthz_and_security_headers(self):
        r = request(self.port, "GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.text, "ok\n")
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertIn("Apache", r.header("Server") or "")

    def test_unknown_path_is_404_page(self):
        r = request(self.port, "GET", "/no/such/page?x=1")
        self.assertEqual(r.status, 404)
        self.assertIn("<h1>Page not found</h1>", r.text)

    def test_static_is_served_by_apache(self):
        r = request(self.port, "GET", "/static/style.css")
        self.assertEqual(r.status, 200)
        self.assertIn("text/css", r.header("Content-Type"))
        # Not by the app: no app security headers on Apache's own files.
        self.assertIsNone(r.header("Content-Security-Policy"))

    def test_2mib_post_is_413(self):
        r = request(self.port, "POST", "/login", body=b"a=" + b"x" * (2 << 20),
                    headers={"Content-Type":
                             "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 413)

    def test_sign_in_connect_select_and_webhook(self):
        b = sign_in(self.port, "a@apache.example", PW)
        S = settings_path(SLUG)
        self.assertEqual(b.get(S).status, 200)
        sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        cb = sb.decide(start_connect(b, SLUG))
        r = b.get(cb)
        self.assertEqual(r.status, 303, r.text[:500])
        page = b.get(S + "/phone-numbers")
        self.assertEqual(page.status, 200)
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": PHONE,
                                          "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:500])
        page = b.get(S)
        self.assertIn("Connected", page.text)

        # A webhook: X-Hub-Signature-256 must reach us through Apache.
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": WABA, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550100",
                             "phone_number_id": PHONE},
                "messages": [{"from": "4915112345678",
                              "id": "wamid.apache-1", "timestamp": "1764570000",
                              "type": "text", "text": {"body": "hi"}}]}}]}]
        }).encode()
        sig = "sha256=" + hmac.new(self.st.app_secret.encode(), body,
                                   hashlib.sha256).hexdigest()
        h = {"Content-Type": "application/json"}
        r = request(self.port, "POST", "/webhooks/meta", body=body,
                    headers=dict(h, **{"X-Hub-Signature-256": "sha256=" +
                                       "0" * 64}))
        self.assertEqual(r.status, 403)
        r = request(self.port, "POST", "/webhooks/meta", body=body,
                    headers=dict(h, **{"X-Hub-Signature-256": sig}))
        self.assertEqual(r.status, 200, r.text[:300])
        ws_db = self.st.sql("SELECT db_name FROM workspaces WHERE slug='%s'"
                            % SLUG, db="waba_control").strip()
        n = self.st.sql("SELECT COUNT(*) FROM webhook_events", db=ws_db)
        self.assertEqual(int(n.strip()), 1)

    def test_concurrency_beyond_the_workers(self):
        # 8 clients on 2 workers: with enablereuse=on, connections Apache
        # kept open pinned both workers and requests timed out.
        ts, statuses = hammer(self.port, 3.0, clients=8)
        for t in ts:
            t.join()
        self.assertEqual([s for s in statuses if s != 200], [])
        self.assertGreater(len(statuses), 100)

    def test_api_key_reaches_the_app(self):
        # Authorization must get through mod_proxy_fcgi to the gate.
        r = self.st.admin("api-key", "add", "apache-svc", "--scopes",
                          "connection:read")
        key = r.stdout.strip()
        path = "/api/v1/w/%s/connection" % SLUG
        r = request(self.port, "GET", path,
                    headers={"Authorization": "Bearer " + key})
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertEqual(json.loads(r.text)["workspace"], SLUG)
        r = request(self.port, "GET", path)
        self.assertEqual(r.status, 401)
        self.assertEqual(json.loads(r.text)["error"]["code"], "unauthorized")
