"""Issue 12, item 5: the Health card and Check now, clicked through in
headless Chromium (Playwright, Debian's chromium); screenshots land in
tests/out/screenshots/health."""
from base import BrowserCase

PW = "browser health password"


class BrowserHealth(BrowserCase):
    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "healthy", "Healthy Shop")
        cls.st.admin("user", "add", "healthy", "merchant@healthy.example",
                     input=PW + "\n")

    def test_health_flow(self):
        self.run_flow("health.mjs", "ok - health card flow", shots="health",
                      EMAIL="merchant@healthy.example", PASSWORD=PW,
                      SLUG="healthy")
