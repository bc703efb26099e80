"""Issue 4: a merchant clicks through the flow in headless Chromium
(Playwright, Debian's chromium); screenshots land in tests/out/screenshots."""
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
