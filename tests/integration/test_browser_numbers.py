"""Issue 10, items 1 and 2: several numbers and number states, clicked
through in headless Chromium (Playwright, Debian's chromium); screenshots
land in tests/out/screenshots/numbers."""
from base import BrowserCase

PW = "browser numbers password"


class BrowserNumbers(BrowserCase):
    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "multi", "Multi Numbers Ltd")
        cls.st.admin("user", "add", "multi", "merchant@multi.example",
                     input=PW + "\n")

    def test_numbers_flow(self):
        self.run_flow("numbers.mjs",
                      "ok - registered once its display name was approved",
                      shots="numbers", EMAIL="merchant@multi.example",
                      PASSWORD=PW, SLUG="multi")


class BrowserCoexistence(BrowserCase):
    """Item 4: a WhatsApp Business app number through the popup."""
    config = {"meta.config_id": "778899001122334"}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "app", "App Shop")
        cls.st.admin("user", "add", "app", "merchant@app.example",
                     input=PW + "\n")

    def test_coexistence_flow(self):
        self.run_flow("coexistence.mjs",
                      "ok - coexistence onboarding and sync",
                      shots="coexistence", EMAIL="merchant@app.example",
                      PASSWORD=PW, SLUG="app")
