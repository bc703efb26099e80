"""Driving the Meta sandbox and the connection flow from tests."""
import hashlib
import hmac
import json
import re
import ssl
import urllib.parse

from client import Browser, request

WABA = "102290129340398"
WABA2 = "102290129340399"
PHONE = "106540352242922"
PHONE2 = "106540352242923"
PHONE_EU = "106540352242924"


def csrf(page):
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    return m.group(1) if m else None


class Sandbox:
    def __init__(self, port, app_secret, ca_file=None):
        """ca_file: the test CA of a sandbox that speaks https."""
        self.port = port
        self.secret = app_secret
        self.context = (ssl.create_default_context(cafile=ca_file)
                        if ca_file else None)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = request(self.port, method, path, body=data,
                    headers={"Content-Type": "application/json"} if data else {},
                    timeout=60, context=self.context)
        assert r.status == 200, (path, r.status, r.text[:300])
        return json.loads(r.text) if r.text else None

    def reset(self):
        return self.call("POST", "/_sandbox/reset", {})

    def inject(self, endpoint, error, count=1, **kw):
        body = {"endpoint": endpoint, "error": error, "count": count}
        body.update(kw)
        return self.call("POST", "/_sandbox/inject", body)

    def clear_injections(self):
        return self.call("POST", "/_sandbox/inject/clear", {})

    def limits(self, **kw):
        """Meta's limits on sends (per_number_mps, pair_interval_ms,
        send_delay_ms, http_status; None turns one off); no arguments:
        read them, with what each refused."""
        if not kw:
            return self.call("GET", "/_sandbox/limits")
        return self.call("POST", "/_sandbox/limits", kw)

    def state(self):
        return self.call("GET", "/_sandbox/state")

    def requests(self, endpoint=None):
        q = "?endpoint=" + endpoint if endpoint else ""
        return self.call("GET", "/_sandbox/requests" + q)["requests"]

    def config(self, **kw):
        return self.call("POST", "/_sandbox/config", kw)

    def proof(self, token):
        return hmac.new(self.secret.encode(), token.encode(),
                        hashlib.sha256).hexdigest()

    def decide(self, dialog_url, decision="continue", scenario=None):
        """Plays the merchant on Meta's dialog: returns our callback path."""
        u = urllib.parse.urlsplit(dialog_url)
        assert u.path.endswith("/dialog/oauth"), dialog_url
        q = u.query + "&decision=" + decision
        if scenario:
            q += "&scenario=" + scenario
        r = request(self.port, "GET", u.path + "/decide?" + q,
                    context=self.context)
        assert r.status == 302, (r.status, r.text[:300])
        loc = r.header("Location").split("#", 1)[0]
        cb = urllib.parse.urlsplit(loc)
        return cb.path + "?" + cb.query


def sign_in(port, email, password):
    b = Browser(port)
    page = b.get("/login")
    r = b.post("/login", {"csrf_token": csrf(page), "email": email,
                          "password": password})
    assert r.status == 303, (r.status, r.text[:500])
    return b


def settings_path(slug):
    return "/w/%s/settings/whatsapp" % slug


def start_connect(b, slug):
    page = b.get(settings_path(slug))
    r = b.post(settings_path(slug) + "/connect", {"csrf_token": csrf(page)})
    assert r.status == 303, (r.status, r.text[:500])
    return r.header("Location")


def post_webhook(port, app_secret, body):
    """POSTs body to /webhooks/meta signed as Meta signs it
    (X-Hub-Signature-256: HMAC-SHA256 with the app secret)."""
    sig = "sha256=" + hmac.new(app_secret.encode(), body,
                               hashlib.sha256).hexdigest()
    return request(port, "POST", "/webhooks/meta", body=body,
                   headers={"Content-Type": "application/json",
                            "X-Hub-Signature-256": sig})


def post_form(b, path, fields):
    """POSTs a form with the session's CSRF token (read off the settings page)."""
    page = b.get("/".join(path.split("/")[:5]))
    data = dict(fields)
    data["csrf_token"] = csrf(page)
    return b.post(path, data)


def add_number(b, slug, phone, pin="123456", status=303):
    """Adds one of the listed numbers on the phone numbers page; returns the
    answer (its status checked against status)."""
    page = b.get(settings_path(slug) + "/phone-numbers")
    assert page.status == 200, (page.status, page.text[:500])
    fields = {"csrf_token": csrf(page), "phone_number_id": phone}
    if pin is not None:
        fields["pin"] = pin
    r = b.post(settings_path(slug) + "/phone-numbers", fields)
    assert r.status == status, (r.status, r.text[:800])
    return r
