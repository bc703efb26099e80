"""Issue 11, the template routes of the internal API (doc/contract.md,
Internal API): GET / POST /api/v1/w/{slug}/templates and DELETE
/api/v1/w/{slug}/templates/{name}, through lighttpd, the pool, MariaDB
and the Meta sandbox, with a workspace connected the way a merchant
connects it. Each Meta call goes to the connection's own WABA with the
token in a header; bad input and keys that may not act send nothing."""
import glob
import json
import os
import urllib.parse

from base import StackCase
from client import request
from meta import PHONE, WABA, Sandbox, csrf, settings_path, sign_in, \
    start_connect

PW = "templates test password"
SLUG, OTHER, IDLE = "tpl-a", "tpl-b", "tpl-idle"
TPL = {"name": "order_update", "language": "en_US", "category": "UTILITY",
       "components": [{"type": "BODY", "text": "Your order {{1}} shipped."}]}
META_PATHS = ("message_templates", "create_template", "delete_template")


class ApiTemplates(StackCase):
    workers = 3
    sandbox = True

    @classmethod
    def setUpStack(cls):
        for slug in (SLUG, OTHER, IDLE):
            cls.st.admin("workspace", "add", slug, slug.upper())
        cls.st.admin("user", "add", SLUG, "t@a.example", input=PW + "\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        b = sign_in(cls.st.port, "t@a.example", PW)
        r = b.get(cls.sb.decide(start_connect(b, SLUG)))
        assert r.status == 303, r.text[:500]
        S = settings_path(SLUG)
        page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": PHONE,
                                          "pin": "123456"})
        assert r.status == 303, r.text[:500]
        cls.rw = cls.key("svc-tpl", "templates:read,templates:write")
        cls.ro = cls.key("svc-tpl-ro", "templates:read")
        cls.only_b = cls.key("svc-tpl-b", "templates:read,templates:write",
                             OTHER)

    @classmethod
    def key(cls, name, scopes, workspace=None):
        args = ["api-key", "add", name, "--scopes", scopes]
        if workspace:
            args += ["--workspace", workspace]
        return cls.st.admin(*args).stdout.strip()

    def setUp(self):
        self.sb.clear_injections()
        self.sb.call("POST", "/_sandbox/templates/clear", {})
        self.sb.call("POST", "/_sandbox/requests/clear", {})

    # -- helpers ---------------------------------------------------------

    def api(self, method, path, key=None, body=None, slug=SLUG):
        h = {"Authorization": "Bearer " + (key or self.rw)}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        return request(self.port, method, "/api/v1/w/%s/templates%s" % (
            slug, path), body=data, headers=h)

    def ok(self, r, status=200):
        self.assertEqual(r.status, status, r.text[:500])
        self.assertEqual(r.header("Content-Type"), "application/json")
        return json.loads(r.text)

    def error(self, r, status, code):
        body = self.ok(r, status)
        self.assertEqual(body["error"]["code"], code, body)
        return body["error"]

    def list(self, query="", key=None):
        return self.ok(self.api("GET", query, key))

    def create(self, **over):
        return self.api("POST", "", body=dict(TPL, **over))

    def delete(self, name, query=""):
        return self.api("DELETE", "/" + name + query)

    def meta_calls(self):
        return [r for r in self.sb.requests() if r["endpoint"] in META_PATHS]

    def review(self, tid, event, **kw):
        return self.sb.call("POST", "/_sandbox/templates/status",
                            dict(template_id=tid, event=event, **kw))

    # -- the routes --------------------------------------------------------

    def test_create_pending_then_approved_and_rejected(self):
        r = self.ok(self.create())
        self.assertEqual(sorted(r), ["category", "id", "status"])
        self.assertEqual((r["status"], r["category"]), ("PENDING", "UTILITY"))
        calls = self.meta_calls()
        self.assertEqual(len(calls), 1)
        c = calls[0]
        self.assertEqual((c["method"], c["path"].split("/", 2)[2]),
                         ("POST", WABA + "/message_templates"))
        self.assertEqual(c["body"], TPL)
        self.assertEqual(c["token_via"], "header")
        got = self.list()
        self.assertIsNone(got["next"])
        [t] = got["templates"]
        self.assertEqual((t["id"], t["name"], t["status"], t["language"]),
                         (r["id"], "order_update", "PENDING", "en_US"))
        self.assertEqual(t["components"], TPL["components"])
        # Meta's review: the webhook is acknowledged, the list says so.
        out = self.review(r["id"], "APPROVED")
        self.assertEqual(out["responses"], [200])
        self.assertEqual(self.list()["templates"][0]["status"], "APPROVED")
        out = self.review(r["id"], "REJECTED", reason="INCORRECT_CATEGORY")
        self.assertEqual(out["responses"], [200])
        t = self.list()["templates"][0]
        self.assertEqual((t["status"], t["rejected_reason"]),
                         ("REJECTED", "INCORRECT_CATEGORY"))

    def test_list_filters_and_paging(self):
        for i in range(5):
            self.ok(self.create(name="promo_%d" % i, category="MARKETING"))
        self.ok(self.create(name="receipt"))
        tid = self.list("?name=receipt")["templates"][0]["id"]
        self.review(tid, "APPROVED")
        self.assertEqual([t["name"] for t in
                          self.list("?status=APPROVED")["templates"]],
                         ["receipt"])
        self.assertEqual(len(self.list("?name=promo")["templates"]), 5)
        seen, page = [], self.list("?limit=2&name=promo")
        while True:
            seen += [t["name"] for t in page["templates"]]
            self.assertLessEqual(len(page["templates"]), 2)
            if page["next"] is None:
                break
            page = self.list("?limit=2&name=promo&after=" +
                             urllib.parse.quote(page["next"]))
        self.assertEqual(seen, ["promo_%d" % i for i in range(5)])
        q = self.meta_calls()[-1]["query"]
        self.assertEqual((q["name"], q["limit"]), ("promo", "2"))
        self.assertIn("components", q["fields"])
        # Each filter is checked here, before Meta hears of it.
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        for bad in ("?status=GREEN", "?status=", "?name=Promo", "?limit=0",
                    "?limit=101", "?limit=x", "?after=a%20b",
                    "?after=" + "A" * 600):
            self.error(self.api("GET", bad), 400, "invalid_request")
        self.assertEqual(self.meta_calls(), [])

    def test_bad_templates_are_400_and_nothing_sent(self):
        bad = [
            dict(TPL, name="Order-Update"), dict(TPL, name=""),
            dict(TPL, name="a" * 513), dict(TPL, category="TRANSACTIONAL"),
            dict(TPL, language="english"), dict(TPL, components=[]),
            dict(TPL, components=[{"type": "FOOTER", "text": "x"}]),
            dict(TPL, components=[{"type": "BODY", "text": "x" * 1025}]),
            dict(TPL, components="BODY"), dict(TPL, waba_id="102290129340399"),
            {k: v for k, v in TPL.items() if k != "components"},
            {k: v for k, v in TPL.items() if k != "name"},
            {k: v for k, v in TPL.items() if k != "category"},
            dict(TPL, name=5),
        ]
        for body in bad:
            e = self.error(self.api("POST", "", body=body), 400,
                           "invalid_request")
            self.assertTrue(e["message"], body)
        for raw in (b"not json", b"[1,2]", b""):
            self.error(self.api("POST", "", body=raw), 400, "invalid_request")
        self.assertEqual(self.meta_calls(), [])

    def test_duplicate_is_422_with_meta(self):
        self.ok(self.create())
        e = self.error(self.create(), 422, "meta_rejected")
        self.assertEqual((e["meta"]["code"], e["meta"]["error_subcode"]),
                         (100, 2388024))
        self.assertTrue(e["meta"]["fbtrace_id"])
        self.assertIn("English (US)", e["message"])
        # One POST each: a refusal is not repeated.
        self.assertEqual(len(self.meta_calls()), 2)

    def test_delete_all_languages_or_one_hsm_id(self):
        ids = [self.ok(self.create(language=lang))["id"]
               for lang in ("en_US", "de", "fr")]
        r = self.ok(self.delete("order_update", "?hsm_id=" + ids[1]))
        self.assertEqual(r, {"deleted": True, "name": "order_update",
                             "hsm_id": ids[1]})
        self.assertEqual(sorted(t["language"] for t in
                                self.list()["templates"]), ["en_US", "fr"])
        c = self.meta_calls()[-2]
        self.assertEqual((c["method"], c["query"]["name"], c["query"]["hsm_id"]),
                         ("DELETE", "order_update", ids[1]))
        self.ok(self.delete("order_update"))
        self.assertEqual(self.list()["templates"], [])
        e = self.error(self.delete("order_update"), 422, "meta_rejected")
        self.assertEqual(e["meta"]["error_subcode"], 2593002)
        n = len(self.meta_calls())
        for path in ("/Order_Update", "/order-update", "/x?hsm_id=12ab",
                     "/" + "a" * 513):
            r = self.api("DELETE", path)
            self.assertIn(r.status, (400, 404), path)
            self.assertEqual(json.loads(r.text)["error"]["code"],
                             "invalid_request" if r.status == 400
                             else "not_found")
        self.assertEqual(len(self.meta_calls()), n)
        r = self.api("PUT", "")
        self.assertEqual(r.status, 405)

    # -- who may -----------------------------------------------------------

    def test_scope_workspace_and_connection_gates(self):
        self.error(self.api("POST", "", self.ro, TPL), 403, "forbidden")
        self.error(self.api("DELETE", "/order_update", self.ro), 403,
                   "forbidden")
        only_conn = self.key("svc-tpl-conn", "connection:read")
        self.error(self.api("GET", "", only_conn), 403, "forbidden")
        self.assertEqual(self.ok(self.api("GET", "", self.ro))["templates"],
                         [])
        # A key for another workspace: 404, as an unknown one, nothing sent.
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        for method, body in (("GET", None), ("POST", TPL)):
            self.error(self.api(method, "", self.only_b, body), 404,
                       "not_found")
        self.error(self.api("DELETE", "/order_update", self.only_b), 404,
                   "not_found")
        self.error(self.api("GET", "", slug="no-such"), 404, "not_found")
        # Not connected: 409 and nothing sent.
        for method, path, body in (("GET", "", None), ("POST", "", TPL),
                                   ("DELETE", "/order_update", None)):
            self.error(self.api(method, path, body=body, slug=IDLE), 409,
                       "not_connected")
        self.assertEqual(self.meta_calls(), [])

    # -- Meta's failures -----------------------------------------------------

    def test_rate_limit_and_5xx(self):
        # count: the retries a refusal Meta did not act on may have.
        self.sb.inject("create_template", "429", count=5, code=80008,
                       http_status=429)
        r = self.create()
        e = self.error(r, 429, "rate_limited")
        self.assertEqual(e["meta"]["code"], 80008)
        self.assertEqual(r.header("Retry-After"), "60")
        self.sb.inject("message_templates", "429", count=5)
        r = self.api("GET", "")
        self.error(r, 429, "rate_limited")
        self.assertTrue(r.header("Retry-After"))
        # A bare 5xx after a create may have made it: said, not repeated.
        self.sb.clear_injections()
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        self.sb.inject("create_template", "html", http_status=502)
        e = self.error(self.create(name="maybe_made"), 502, "meta_unavailable")
        self.assertIn("not repeated", e["message"])
        self.assertEqual(len(self.meta_calls()), 1)

    def test_zz_190_is_needs_reconnect_and_token_never_shown(self):
        # Runs last (by name): it leaves the connection needs_reconnect.
        self.ok(self.create())
        self.sb.inject("delete_template", "190", subcode=460)
        e = self.error(self.delete("order_update"), 409, "needs_reconnect")
        self.assertEqual((e["meta"]["code"], e["meta"]["error_subcode"]),
                         (190, 460))
        status = json.loads(self.st.admin("status", SLUG, "--json").stdout)
        self.assertEqual(status["status"], "needs_reconnect")
        # From now on nothing is sent: the stored state answers.
        n = len(self.meta_calls())
        self.error(self.api("GET", ""), 409, "needs_reconnect")
        self.assertEqual(len(self.meta_calls()), n)
        tokens = [t["token"] for t in self.sb.state()["tokens"]
                  if WABA in t.get("wabas", [])]
        self.assertTrue(tokens)
        for call in self.sb.requests():
            if call["endpoint"] in META_PATHS:
                self.assertEqual(call["token_via"], "header")
                for t in tokens:
                    self.assertNotIn(t, json.dumps(call["query"]))
                    self.assertNotIn(t, call["path"])
        names = glob.glob(self.st.path("*.log")) + glob.glob(
            self.st.path("*.err"))
        self.assertTrue(any(n.endswith("pool.log") for n in names), names)
        for name in names:
            with open(name, errors="replace") as f:
                text = f.read()
            for t in tokens:
                self.assertNotIn(t, text, os.path.basename(name))
