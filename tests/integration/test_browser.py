"""Issue 4: a merchant clicks through the flow in headless Chromium
(Playwright, Debian's chromium); screenshots land in tests/out/screenshots.
Issue 10, item 3: the Embedded Signup popup, and the same page without
JavaScript."""
from base import BrowserCase

PW = "browser test password"


class Browser(BrowserCase):
    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "shop", "Shop & Co")
        cls.st.admin("user", "add", "shop", "merchant@shop.example",
                     input=PW + "\n")

    def test_merchant_flow(self):
        self.run_flow("flow.mjs",
                      "ok - the number was kept",
                      EMAIL="merchant@shop.example", PASSWORD=PW, SLUG="shop")


class PopupBrowser(BrowserCase):
    """[meta] config_id set: Connect opens the sandbox's JS SDK stand-in's
    popup (tests/browser/popup.mjs); without JavaScript, the redirect."""
    config = {"meta.config_id": "778899001122334"}

    @classmethod
    def setUpStack(cls):
        for slug, name in (("shop", "Shop & Co"), ("plain", "Plain Ltd")):
            cls.st.admin("workspace", "add", slug, name)
            cls.st.admin("user", "add", slug, "merchant@shop.example",
                         input=PW + "\n")

    def test_popup_and_no_js(self):
        self.run_flow("popup.mjs",
                      "ok - popup and no-JS paths",
                      EMAIL="merchant@shop.example", PASSWORD=PW, SLUG="shop",
                      SLUG_NOJS="plain")
