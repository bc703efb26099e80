"""Issue 10, items 1 and 2: several numbers and number states, clicked
through in headless Chromium (Playwright, Debian's chromium); screenshots
land in tests/out/screenshots/numbers."""
import os
import subprocess

from base import OUT, StackCase
from stack import ROOT

PW = "browser numbers password"


class BrowserNumbers(StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "multi", "Multi Numbers Ltd")
        cls.st.admin("user", "add", "multi", "merchant@multi.example",
                     input=PW + "\n")

    def test_numbers_flow(self):
        env = dict(os.environ, BASE_URL=self.st.base_url,
                   SANDBOX_URL="http://127.0.0.1:%d" % self.st.sandbox_port,
                   EMAIL="merchant@multi.example", PASSWORD=PW, SLUG="multi",
                   OUT_DIR=os.path.join(OUT, "screenshots", "numbers"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser",
                                                 "numbers.mjs")],
                           env=env, capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok - registered once its display name was approved",
                      r.stdout)


class BrowserCoexistence(StackCase):
    """Item 4: a WhatsApp Business app number through the popup."""
    workers = 2
    sandbox = True
    config = {"meta.config_id": "778899001122334"}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "app", "App Shop")
        cls.st.admin("user", "add", "app", "merchant@app.example",
                     input=PW + "\n")

    def test_coexistence_flow(self):
        env = dict(os.environ, BASE_URL=self.st.base_url,
                   SANDBOX_URL="http://127.0.0.1:%d" % self.st.sandbox_port,
                   EMAIL="merchant@app.example", PASSWORD=PW, SLUG="app",
                   OUT_DIR=os.path.join(OUT, "screenshots", "coexistence"))
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser",
                                                 "coexistence.mjs")],
                           env=env, capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok - coexistence onboarding and sync", r.stdout)
