"""Issue 15: the request id and [server] log_format = json, through
lighttpd and the real pool: every line one request logs (its Graph
calls' lines too) carries its id, the client's X-Request-Id when it is a
plain token and a new one otherwise (never the bad value echoed), the
answer's X-Request-Id header and the error page name it, and with
log_format = json every line the pool writes is one JSON object."""
import json
import re

from base import StackCase
from client import request
from meta import Sandbox, settings_path, sign_in, start_connect

PW = "logs test password"
SLUG = "acme"
NEW_ID = re.compile(r"^[0-9a-f]{32}$")


class JsonLogs(StackCase):
    workers = 2
    sandbox = True
    # debug: a Graph call that succeeds logs its line at debug.
    config = {"server.log_format": "json", "server.log_level": "debug"}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Acme Ltd")
        cls.st.admin("user", "add", SLUG, "alice@acme.example",
                     input=PW + "\n")

    def lines(self):
        with open(self.st.path("pool.log")) as f:
            raw = f.read().splitlines()
        out = []
        for l in raw:
            if not l.startswith("{"):
                continue  # lighttpd's or libfcgi's own words, not ours
            out.append(json.loads(l))
        return raw, out

    def with_id(self, rid):
        return [o for o in self.lines()[1] if o.get("request_id") == rid]

    def test_every_line_is_json(self):
        request(self.port, "GET", "/login")
        raw, objs = self.lines()
        ours = [l for l in raw if "waba-connect" in l or l.startswith("{")]
        self.assertTrue(ours)
        for l in ours:
            o = json.loads(l)  # raises on a line that is not JSON
            for k in ("ts", "prog", "pid", "level", "msg"):
                self.assertIn(k, o, l)
            self.assertRegex(o["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_one_id_on_all_lines_of_a_request_and_its_graph_calls(self):
        b = sign_in(self.port, "alice@acme.example", PW)
        sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        callback = sb.decide(start_connect(b, SLUG))
        rid = "flow-callback-0001"
        r = b.get(callback, headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.header("X-Request-Id"), rid)
        mine = self.with_id(rid)
        msgs = [o["msg"] for o in mine]
        # The access line and the Graph calls made for this request.
        self.assertTrue(any(m.startswith("GET /oauth/meta/callback 303 ")
                            for m in msgs), msgs)
        self.assertTrue(any(m.startswith("graph ") for m in msgs), msgs)
        # All from one worker: the same pid.
        self.assertEqual(len({o["pid"] for o in mine}), 1)
        # No other request's lines carry it.
        _, objs = self.lines()
        self.assertEqual(
            sum(1 for o in objs if o.get("request_id") == rid), len(mine))

    def test_made_id_when_absent(self):
        r = request(self.port, "GET", "/login")
        rid = r.header("X-Request-Id")
        self.assertRegex(rid, NEW_ID)
        msgs = [o["msg"] for o in self.with_id(rid)]
        self.assertTrue(any(m.startswith("GET /login 200 ") for m in msgs),
                        msgs)

    def test_bad_id_is_replaced_not_echoed(self):
        for bad in ("has space", 'quo"te', "x" * 65, "semi;colon",
                    "\u00e9t\u00e9"):
            r = request(self.port, "GET", "/login",
                        headers={"X-Request-Id": bad.encode().decode("latin-1")})
            self.assertEqual(r.status, 200)
            rid = r.header("X-Request-Id")
            self.assertRegex(rid, NEW_ID, bad)
            self.assertNotEqual(rid, bad)
            raw, _ = self.lines()
            self.assertFalse(any('"request_id":"%s"' % bad in l for l in raw))

    def test_error_page_names_the_id(self):
        rid = "page-ref-42"
        r = request(self.port, "GET", "/no/such/page",
                    headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 404)
        self.assertIn('<code id="request-id">%s</code>' % rid, r.text)
        self.assertEqual(r.header("X-Request-Id"), rid)

    def test_api_error_carries_the_id(self):
        rid = "api-ref-7"
        r = request(self.port, "GET", "/api/v1/w/%s/connection" % SLUG,
                    headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("X-Request-Id"), rid)
        self.assertTrue(self.with_id(rid))


class TextLogs(StackCase):
    """The default text format: the id last, as request_id=ID."""
    workers = 1

    def test_text_line_has_the_id(self):
        rid = "text-ref-1"
        r = request(self.port, "GET", "/login", headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 200)
        with open(self.st.path("pool.log")) as f:
            log = f.read()
        self.assertRegex(log, r"waba-connect\[\d+\] info: GET /login "
                              r"200 \d+us request_id=%s\n" % rid)
