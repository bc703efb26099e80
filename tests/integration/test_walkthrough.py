"""Issue 11, "Done when": the README's curl walkthrough
(scripts/api-walkthrough) run as it is against a real stack. The merchant
connects through the settings pages (OAuth dialog, a number, the catalog
form), then a service holding only an API key sends a message, gets a
template approved, uploads a header image, pushes 100 products and reads
an inbound message; the sandbox's record is checked afterwards."""
import os
import subprocess

from base import StackCase
from meta import PHONE, Sandbox, csrf, post_form, settings_path, sign_in
from meta import start_connect
from stack import ROOT

PW = "walkthrough password"
SLUG = "shop"
S = settings_path(SLUG)
SCOPES = ("connection:read,messages:send,templates:read,templates:write,"
          "media:write,catalog:write,events:read")


class Walkthrough(StackCase):
    workers = 3
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Shop & Co")
        cls.st.admin("user", "add", SLUG, "merchant@shop.example",
                     input=PW + "\n")

    def connect_as_the_merchant(self, sb):
        b = sign_in(self.port, "merchant@shop.example", PW)
        r = b.get(sb.decide(start_connect(b, SLUG)))
        self.assertEqual(r.status, 303, r.text[:500])
        page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": PHONE,
                                          "pin": "123456"})
        self.assertEqual(r.header("Location"), S + "?m=connected")
        cat = sb.call("POST", "/_sandbox/catalogs",
                      {"catalog_id": "880011223344557", "name": "Shirts"})
        r = post_form(b, S + "/catalog", {"catalog_id": "880011223344557",
                                          "catalog_token": cat["token"]})
        self.assertEqual(r.status, 303, r.text[:500])

    def test_walkthrough(self):
        sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.connect_as_the_merchant(sb)
        key = self.st.admin("api-key", "add", "walkthrough", "--scopes",
                            SCOPES, "--workspace", SLUG).stdout.strip()
        key_file = self.st.path("walkthrough-key")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600),
                  "w") as f:
            f.write(key + "\n")
        sb.call("POST", "/_sandbox/requests/clear", {})
        env = dict(os.environ, BASE=self.st.base_url, KEY_FILE=key_file,
                   SANDBOX="http://127.0.0.1:%d" % self.st.sandbox_port,
                   SLUG=SLUG)
        r = subprocess.run([os.path.join(ROOT, "scripts", "api-walkthrough")],
                           env=env, capture_output=True, text=True,
                           timeout=120)
        print(r.stdout[-3000:])
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr)
        self.assertIn("== done: every step answered as expected", r.stdout)
        self.assertNotIn(key, r.stdout + r.stderr)
        # What Meta (the sandbox) saw: one send for the two POSTs with one
        # Idempotency-Key, one template, one upload, one batch of 100.
        seen = sb.requests()
        sends = [q for q in seen if q["endpoint"] == "messages"]
        self.assertEqual(len(sends), 1, sends)
        self.assertEqual(
            len([q for q in seen if q["endpoint"] == "create_template"]), 1)
        self.assertEqual(
            len([q for q in seen if q["endpoint"] == "items_batch"]), 1)
        state = sb.state()
        self.assertGreaterEqual(
            len(state["catalogs"]["880011223344557"]["products"]), 100)
