"""doc/api/openapi.yaml against the server and the answers it gave: every
/api/v1 route of the route table (as `waba-connect --routes` prints it) is
in the document with its method and the document names no other; the
document is valid OpenAPI 3.1; and every /api/ answer the integration
tests recorded (client.ANSWERS) fits the document's schema for its path,
method and status. Runs after every other module (run.py, LAST). The
validators are npm's (tests/openapi: @seriousme/openapi-schema-validator
for the document, Ajv 2020-12 for the answers), installed by scripts/deps."""
import json
import os
import re
import subprocess
import tempfile
import unittest
import urllib.parse

import yaml

from client import ANSWERS
from stack import ROOT, binary

DOC = os.path.join(ROOT, "doc", "api", "openapi.yaml")
TOOL = os.path.join(ROOT, "tests", "openapi")
# Routes of DESIGN §9 that other branches build at this writing: described
# in the document, not yet in this tree's table. Each must still be absent
# from the table (test_routes says so), so the list is emptied at merge.
PENDING = set()
# (method, route, status) the document promises that no integration test
# answers yet, each with why. The check below fails for a pair missing
# from the recorded answers and not listed here, and for a listed pair
# that a test now exercises (take it off then).
GATE = ("the key gate (apigate_check) is one for every route: its 401 is "
        "tested on connection, messages and events (test_api.py)")
BUSY = ("Meta's capacity spent or the database down answer through "
        "api_graph_failed / api_db_down, whose 503 is tested on messages "
        "(test_api_messages.ApiUnavailable) and connection")
UNEXERCISED = {
    ('DELETE', '/api/v1/w/{slug}/outbox/{id}', '503'): BUSY,
    ('GET', '/api/v1/w/{slug}/outbox/{id}', '503'): BUSY,
    ('POST', '/api/v1/w/{slug}/outbox', '503'): BUSY,
    ('DELETE', '/api/v1/w/{slug}/templates/{name}', '401'):
        GATE,
    ('DELETE', '/api/v1/w/{slug}/templates/{name}', '429'):
        "Meta's rate limits mapped by api_graph_failed, tested on messages, catalog and template submission",
    ('DELETE', '/api/v1/w/{slug}/templates/{name}', '502'):
        "Meta's 5xx/timeouts mapped by api_graph_failed, tested on messages and media",
    ('DELETE', '/api/v1/w/{slug}/templates/{name}', '503'):
        BUSY,
    ('GET', '/api/v1/w/{slug}/catalog/batches/{handle}', '401'):
        GATE,
    ('GET', '/api/v1/w/{slug}/catalog/batches/{handle}', '422'):
        'Meta refusing a status read: the sandbox has no such error for check_batch_request_status',
    ('GET', '/api/v1/w/{slug}/catalog/batches/{handle}', '502'):
        "Meta's 5xx mapped by api_graph_failed, tested on items_batch",
    ('GET', '/api/v1/w/{slug}/catalog/batches/{handle}', '503'):
        BUSY,
    ('GET', '/api/v1/w/{slug}/events', '503'):
        'the workspace database down: api_db_down, tested on connection',
    ('GET', '/api/v1/w/{slug}/templates', '401'):
        GATE,
    ('GET', '/api/v1/w/{slug}/templates', '422'):
        'Meta refusing a list read: no sandbox error for it',
    ('GET', '/api/v1/w/{slug}/templates', '502'):
        "Meta's 5xx mapped by api_graph_failed, tested on messages and media",
    ('GET', '/api/v1/w/{slug}/templates', '503'):
        BUSY,
    ('POST', '/api/v1/w/{slug}/catalog/items', '401'):
        GATE,
    ('POST', '/api/v1/w/{slug}/catalog/items', '503'):
        BUSY,
    ('POST', '/api/v1/w/{slug}/media', '401'):
        GATE,
    ('POST', '/api/v1/w/{slug}/media', '503'):
        BUSY,
    ('POST', '/api/v1/w/{slug}/templates', '401'):
        GATE,
    ('POST', '/api/v1/w/{slug}/templates', '413'):
        "the body limit (server.max_body) is the request parser's, tested on messages",
    ('POST', '/api/v1/w/{slug}/templates', '503'):
        BUSY,
    ('POST', '/api/v1/w/{slug}/uploads', '401'):
        GATE,
    ('POST', '/api/v1/w/{slug}/uploads', '403'):
        "the scope check is the gate's, tested on POST /media (same scope, media:write)",
    ('POST', '/api/v1/w/{slug}/uploads', '422'):
        'Meta refusing an upload session: tested on POST /media only',
    ('POST', '/api/v1/w/{slug}/uploads', '429'):
        "Meta's rate limits: tested on POST /media only",
    ('POST', '/api/v1/w/{slug}/uploads', '503'):
        BUSY,
}


def validate(answers):
    if not os.path.isdir(os.path.join(TOOL, "node_modules", "ajv")):
        raise AssertionError("tests/openapi/node_modules is missing: run scripts/deps")
    r = subprocess.run(["node", os.path.join(TOOL, "validate.mjs"), DOC, answers],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("validate.mjs failed: %s" % r.stderr[-2000:])
    return json.loads(r.stdout)


class OpenApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.report = validate(ANSWERS)

    def test_document_is_valid_openapi_3_1(self):
        self.assertTrue(self.report["doc_valid"],
                        json.dumps(self.report["doc_errors"], indent=1)[:4000])
        with open(DOC) as f:
            self.assertTrue(f.readline().startswith("openapi: 3.1."))

    def test_routes_match_the_route_table(self):
        r = subprocess.run([binary("waba-connect"), "--routes"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        table = {tuple(line.split(" ", 1)) for line in r.stdout.splitlines()}
        api = {t for t in table if t[1].startswith("/api/v1/")}
        self.assertIn(("GET", "/api/v1/w/{slug}/connection"), api)
        doc = {tuple(x) for x in self.report["doc_routes"]}
        self.assertEqual(api - doc, set(), "routes the document lacks")
        self.assertEqual(doc - api - PENDING, set(), "routes the table lacks")
        self.assertEqual(PENDING & api, set(),
                         "built now: take them off PENDING in test_openapi.py")

    def test_recorded_answers_fit_the_document(self):
        self.assertGreater(self.report["checked"], 0,
                           "no /api/ answer was recorded (%s): run the whole suite "
                           "with tests/integration/run.py" % ANSWERS)
        self.assertEqual(self.report["failures"], [],
                         "%d of %d answers do not fit:\n%s" % (
                             len(self.report["failures"]), self.report["checked"],
                             "\n".join(self.report["failures"][:40])))

    def test_every_route_and_status_was_answered(self):
        """Each documented (route, status) came back from some test."""
        if os.environ.get("WABA_ALL_MODULES") != "1":
            self.skipTest("only on a run of every module (tests/integration/run.py)")
        with open(DOC) as f:
            doc = yaml.safe_load(f)
        promised, pats = set(), []
        for route, ops in doc["paths"].items():
            pats.append((re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+",
                                                  re.escape(route)) + "$"), route))
            for method, op in ops.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue  # parameters, summary
                for status in op.get("responses", {}):
                    promised.add((method.upper(), route, status))
        seen = set()
        with open(ANSWERS) as f:
            for line in f:
                a = json.loads(line)
                path = urllib.parse.urlsplit(a["path"]).path
                for rx, route in pats:
                    if rx.match(path):
                        seen.add((a["method"], route, str(a["status"])))
        missing = promised - seen - set(UNEXERCISED)
        self.assertEqual(sorted(missing), [],
                         "documented, never answered by a test (test it, or list "
                         "it in UNEXERCISED with why)")
        self.assertEqual(sorted(set(UNEXERCISED) & seen), [],
                         "tested now: take these off UNEXERCISED")

    def test_a_wrong_answer_is_caught(self):
        """The validation is not vacuous: answers that break the document
        in each way it checks are each reported."""
        bad = [
            ("POST", "/api/v1/w/a/catalog/items", 200, {"content-type": "application/json"},
             {"handle": "x"}),                          # handles missing
            ("GET", "/api/v1/w/a/catalog/batches/Ab", 200,
             {"content-type": "application/json"}, {"handle": "Ab"}),  # no batch
            ("GET", "/api/v1/w/a/connection", 418, {"content-type": "application/json"},
             {"error": {"code": "x", "message": "m"}}),  # status not documented
            ("POST", "/api/v1/w/a/catalog/items", 409, {"content-type": "application/json"},
             {"error": {"code": "conflict", "message": "m"}}),  # code not in the enum
            ("POST", "/api/v1/w/a/catalog/items", 429, {"content-type": "application/json"},
             {"error": {"code": "rate_limited", "message": "m"}}),  # no Retry-After
            ("GET", "/api/v1/nowhere", 404, {"content-type": "application/json"},
             {"oops": 1}),                              # not the error envelope
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for m, p, st, h, body in bad:
                f.write(json.dumps({"method": m, "path": p, "status": st, "headers": h,
                                    "body": json.dumps(body)}) + "\n")
        try:
            report = validate(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(report["checked"], len(bad))
        self.assertEqual(len(report["failures"]), len(bad),
                         "\n".join(report["failures"]))
