"""Issue 4: a merchant clicks through the flow in headless Chromium
(Playwright, Debian's chromium); screenshots land in tests/out/screenshots.
Issue 10, item 3: the Embedded Signup popup, and the same page without
JavaScript."""
import os
import subprocess

from base import OUT, StackCase
from stack import ROOT

PW = "browser test password"


class Browser(StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "shop", "Shop & Co")
        cls.st.admin("user", "add", "shop", "merchant@shop.example",
                     input=PW + "\n")

    def test_merchant_flow(self):
        env = dict(os.environ, BASE_URL=self.st.base_url,
                   SANDBOX_URL="http://127.0.0.1:%d" % self.st.sandbox_port,
                   EMAIL="merchant@shop.example", PASSWORD=PW, SLUG="shop",
                   OUT_DIR=os.path.join(OUT, "screenshots"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser",
                                                 "flow.mjs")],
                           env=env, capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok - the number was kept", r.stdout)


class PopupBrowser(StackCase):
    """[meta] config_id set: Connect opens the sandbox's JS SDK stand-in's
    popup (tests/browser/popup.mjs); without JavaScript, the redirect."""
    workers = 2
    sandbox = True
    config = {"meta.config_id": "778899001122334"}

    @classmethod
    def setUpStack(cls):
        for slug, name in (("shop", "Shop & Co"), ("plain", "Plain Ltd")):
            cls.st.admin("workspace", "add", slug, name)
            cls.st.admin("user", "add", slug, "merchant@shop.example",
                         input=PW + "\n")

    def test_popup_and_no_js(self):
        env = dict(os.environ, BASE_URL=self.st.base_url,
                   SANDBOX_URL="http://127.0.0.1:%d" % self.st.sandbox_port,
                   EMAIL="merchant@shop.example", PASSWORD=PW, SLUG="shop",
                   SLUG_NOJS="plain",
                   OUT_DIR=os.path.join(OUT, "screenshots"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser",
                                                 "popup.mjs")],
                           env=env, capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok - popup and no-JS paths", r.stdout)
