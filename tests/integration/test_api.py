"""The internal API's keys and gate (doc/contract.md, Internal API):
api-key add|list|revoke against a real MariaDB, and GET
/api/v1/w/{slug}/connection through lighttpd and the pool."""
import collections
import glob
import json
import os
import re

from base import StackCase
from client import request
from gateway import side_by_side

SCOPES = ["connection:read", "messages:send", "templates:read",
          "templates:write", "media:write", "catalog:write", "events:read"]
KEY_RE = re.compile(r"^wck_[0-9a-f]{64}$")


class ApiKeys(StackCase):
    workers = 3

    @classmethod
    def setUpStack(cls):
        for slug in ("api-a", "api-b"):
            cls.st.admin("workspace", "add", slug, slug.upper())
        # A stored token, so the status object has something to say.
        cls.token = "EAAGapitest" + "x" * 40
        cls.st.admin("token", "set", "api-a", "waba", input=cls.token + "\n")

    def admin(self, *args, **kw):
        kw.setdefault("check", False)
        return self.st.admin(*args, **kw)

    def add_key(self, name, scopes="connection:read", workspaces=()):
        args = ["api-key", "add", name, "--scopes", scopes]
        for w in workspaces:
            args += ["--workspace", w]
        r = self.admin(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertRegex(lines[0], KEY_RE)
        self.assertNotIn(lines[0], r.stderr)
        return lines[0]

    def get(self, path, key=None, header=None):
        h = {}
        if header is not None:
            h["Authorization"] = header
        elif key is not None:
            h["Authorization"] = "Bearer " + key
        return request(self.port, "GET", path, headers=h)

    def conn(self, slug, key=None, header=None):
        return self.get("/api/v1/w/%s/connection" % slug, key, header)

    def error_of(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:300])
        self.assertEqual(r.header("Content-Type"), "application/json")
        body = json.loads(r.text)
        self.assertEqual(list(body), ["error"])
        self.assertEqual(sorted(body["error"]), ["code", "message"])
        self.assertEqual(body["error"]["code"], code)
        return r.text

    def listing(self):
        r = self.admin("api-key", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {k["name"]: k for k in json.loads(r.stdout)}, r.stdout

    def test_key_works_and_is_shown_once(self):
        key = self.add_key("svc-inbox")
        r = self.conn("api-a", key)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        got = json.loads(r.text)
        want = json.loads(self.admin("status", "api-a", "--json").stdout)
        self.assertEqual(got, want)
        self.assertEqual(got["workspace"], "api-a")
        self.assertIn("phone_numbers", got)
        self.assertNotIn(self.token, r.text)
        # Only the hash is stored, and no other command shows the key.
        keys, raw = self.listing()
        self.assertNotIn(key, raw)
        self.assertNotIn(key[4:], raw)
        text = self.admin("api-key", "list").stdout
        self.assertNotIn(key, text)
        self.assertIn("svc-inbox", text)
        k = keys["svc-inbox"]
        self.assertEqual(k["prefix"], key[:12])
        self.assertEqual(k["scopes"], ["connection:read"])
        self.assertTrue(k["all_workspaces"])
        self.assertEqual(k["workspaces"], [])
        self.assertRegex(k["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsNone(k["revoked_at"])
        dump = self.st.sql("SELECT name, HEX(key_hash), shown_prefix, scopes "
                           "FROM waba_control.api_keys")
        self.assertNotIn(key, dump)
        self.assertNotIn(key[4:].upper(), dump.upper())
        # The other workspace, open to a key without --workspace.
        self.assertEqual(self.conn("api-b", key).status, 200)

    def test_last_used_at_set_and_written_at_most_once_a_minute(self):
        key = self.add_key("svc-used")
        self.assertIsNone(self.listing()[0]["svc-used"]["last_used_at"])
        self.assertEqual(self.conn("api-a", key).status, 200)
        used = self.listing()[0]["svc-used"]["last_used_at"]
        self.assertRegex(used, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # A use within the minute writes nothing: set it back and see it
        # stay so; an older one is brought forward by the next request.
        self.st.sql("UPDATE waba_control.api_keys SET last_used_at = "
                    "UTC_TIMESTAMP() - INTERVAL 30 SECOND WHERE name = "
                    "'svc-used'")
        before = self.st.sql("SELECT last_used_at FROM waba_control.api_keys "
                             "WHERE name = 'svc-used'").strip()
        for _ in range(3):
            self.assertEqual(self.conn("api-a", key).status, 200)
        self.assertEqual(before, self.st.sql(
            "SELECT last_used_at FROM waba_control.api_keys WHERE name = "
            "'svc-used'").strip())
        self.st.sql("UPDATE waba_control.api_keys SET last_used_at = "
                    "'2020-01-01 00:00:00' WHERE name = 'svc-used'")
        self.assertEqual(self.conn("api-a", key).status, 200)
        self.assertNotEqual("2020-01-01T00:00:00Z",
                            self.listing()[0]["svc-used"]["last_used_at"])

    def test_no_key_bad_header_unknown_or_revoked_key_same_401(self):
        key = self.add_key("svc-gone")
        self.assertEqual(self.admin("api-key", "revoke", "svc-gone")
                         .returncode, 0)
        unknown = "wck_" + "0" * 64
        bodies = [
            self.error_of(self.conn("api-a"), 401, "unauthorized"),
            self.error_of(self.conn("api-a", header="Basic Zm9vOmJhcg=="),
                          401, "unauthorized"),
            self.error_of(self.conn("api-a", header="Bearer"), 401,
                          "unauthorized"),
            self.error_of(self.conn("api-a", header="Bearer " + key[:-1]),
                          401, "unauthorized"),
            self.error_of(self.conn("api-a", header="Bearer " +
                                    key.upper()), 401, "unauthorized"),
            self.error_of(self.conn("api-a", header="Bearer " + key + " x"),
                          401, "unauthorized"),
            self.error_of(self.conn("api-a", unknown), 401, "unauthorized"),
            self.error_of(self.conn("api-a", key), 401, "unauthorized"),
            # Unknown workspace too: the key is checked first.
            self.error_of(self.conn("nowhere", key), 401, "unauthorized"),
        ]
        self.assertEqual(len(set(bodies)), 1, bodies)
        r = self.conn("api-a")
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        # The scheme's case is not significant (RFC 7235).
        good = self.add_key("svc-case")
        self.assertEqual(self.conn("api-a", header="bearer " + good).status,
                         200)

    def test_wrong_scope_is_403(self):
        key = self.add_key("svc-send", "messages:send,events:read")
        text = self.error_of(self.conn("api-a", key), 403, "forbidden")
        self.assertIn("connection:read", text)
        self.assertEqual(self.listing()[0]["svc-send"]["scopes"],
                         ["messages:send", "events:read"])

    def test_workspace_limited_key_sees_others_as_unknown(self):
        key = self.add_key("svc-only-a", "connection:read", ["api-a"])
        self.assertEqual(self.conn("api-a", key).status, 200)
        other = self.error_of(self.conn("api-b", key), 404, "not_found")
        unknown = self.error_of(self.conn("no-such-ws", key), 404,
                                "not_found")
        self.assertEqual(other, unknown)
        k = self.listing()[0]["svc-only-a"]
        self.assertFalse(k["all_workspaces"])
        self.assertEqual(k["workspaces"], ["api-a"])
        # An all-workspaces key gets the same 404 for an unknown one.
        allkey = self.add_key("svc-all-404")
        self.assertEqual(unknown, self.error_of(
            self.conn("no-such-ws", allkey), 404, "not_found"))

    def test_grant_seen_for_one_key_is_not_anothers(self):
        """The gate of a Meta call's route remembers which key it let
        into which workspace (grants never change): once an
        all-workspaces key has been let into api-b on the workers, a
        key for api-a alone is still refused there, by each of them."""
        tpl = "/api/v1/w/%s/templates"
        mine = self.add_key("svc-tpl-a", "templates:read", ["api-a"])
        every = self.add_key("svc-tpl-all", "templates:read")
        # api-b has not connected: the gate lets the key in, then 409.
        for _ in range(2):
            self.assertEqual({r.status for r in side_by_side(
                lambda: self.get(tpl % "api-b", every), 16, 4)}, {409})
        unknown = self.error_of(self.get(tpl % "no-such-ws", mine), 404,
                                "not_found")
        for r in side_by_side(lambda: self.get(tpl % "api-b", mine), 16, 4):
            self.assertEqual(self.error_of(r, 404, "not_found"), unknown)
        self.assertNotEqual(self.get(tpl % "api-a", mine).status, 404)

    def test_revocation_is_seen_by_every_worker_at_once(self):
        # GET /connection reads the key every time; the routes that call
        # Meta reuse the read for a lease, which the revoke waits out
        # (test_api_messages.GateLease.test_revoke_waits_out_the_lease).
        key = self.add_key("svc-revoke")
        path = "/api/v1/w/api-a/connection"

        def burst(n=40):
            return collections.Counter(r.status for r in side_by_side(
                lambda: self.conn("api-a", key), n, 8))

        self.assertEqual(burst(), {200: 40})
        r = self.admin("api-key", "revoke", "svc-revoke")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("revoked", r.stdout)
        self.assertEqual(burst(), {401: 40})
        # Both bursts were served by more than one worker.
        with open(self.st.path("pool.log"), errors="replace") as f:
            log = f.read()
        for status in (200, 401):
            pids = set(re.findall(r"\[(\d+)\] \w+: GET %s %d " % (
                re.escape(path), status), log))
            self.assertGreaterEqual(len(pids), 2, (status, pids))
        self.assertIsNotNone(self.listing()[0]["svc-revoke"]["revoked_at"])
        again = self.admin("api-key", "revoke", "svc-revoke")
        self.assertEqual(again.returncode, 0)
        self.assertIn("already revoked", again.stdout)

    def test_admin_refusals(self):
        r = self.admin("api-key", "add", "svc-x", "--scopes", "root")
        self.assertEqual(r.returncode, 2)
        self.assertIn('"root" is not a scope', r.stderr)
        r = self.admin("api-key", "add", "svc-x", "--scopes",
                       "connection:read,")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(self.admin("api-key", "add", "svc-x").returncode, 2)
        self.assertEqual(self.admin("api-key", "add", "bad name!",
                                    "--scopes", "events:read").returncode, 2)
        r = self.admin("api-key", "add", "svc-x", "--scopes", "events:read",
                       "--workspace", "api-a", "--workspace", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no workspace nope", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertNotIn("svc-x", self.listing()[0])
        self.add_key("svc-dup")
        r = self.admin("api-key", "add", "svc-dup", "--scopes", "events:read")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already an api key named svc-dup", r.stderr)
        self.assertEqual(r.stdout, "")
        r = self.admin("api-key", "revoke", "no-such-key")
        self.assertEqual(r.returncode, 1)
        every = self.add_key("svc-every", ",".join(SCOPES))
        self.assertRegex(every, KEY_RE)
        self.assertEqual(self.listing()[0]["svc-every"]["scopes"], SCOPES)

    def test_unknown_api_path_and_method_answer_json(self):
        key = self.add_key("svc-paths")
        self.error_of(self.get("/api/v1/w/api-a/nothing", key), 404,
                      "not_found")
        r = request(self.port, "POST", "/api/v1/w/api-a/connection",
                    body=b"", headers={"Authorization": "Bearer " + key})
        self.error_of(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_request_refusals_answer_json(self):
        """Refused before its route is known (too long, not strictly
        encoded, too large): an API client still reads a JSON error."""
        key = self.add_key("svc-refused")
        h = {"Authorization": "Bearer " + key}
        r = request(self.port, "GET", "/api/v1/w/api-a/" + "x" * 3000,
                    headers=h)
        self.error_of(r, 414, "invalid_request")
        r = request(self.port, "GET", "/api/v1/w/api-a/%zz", headers=h)
        self.error_of(r, 400, "invalid_request")
        r = request(self.port, "POST", "/api/v1/w/api-a/connection",
                    body=b"x" * (2 << 20),
                    headers=dict(h, **{"Content-Type":
                                       "application/json"}))
        self.error_of(r, 413, "too_large")
        # A page keeps answering pages.
        r = request(self.port, "GET", "/w/api-a/" + "x" * 3000)
        self.assertEqual(r.status, 414)
        self.assertIn("text/html", r.header("Content-Type"))

    def test_zz_keys_never_in_logs(self):
        # Runs last (by name): every key made above has been used.
        keys = [self.add_key("svc-log")]
        self.assertEqual(self.conn("api-a", keys[0]).status, 200)
        self.conn("api-b", "wck_" + "f" * 64)
        self.conn("api-a", header="Bearer not-a-key-" + "9" * 40)
        names = glob.glob(self.st.path("*.log")) + glob.glob(
            self.st.path("*.err"))
        self.assertTrue(any(n.endswith("pool.log") for n in names), names)
        for name in names:
            with open(name, errors="replace") as f:
                text = f.read()
            self.assertNotIn(keys[0], text, os.path.basename(name))
            self.assertNotIn(keys[0][4:], text, os.path.basename(name))
            self.assertNotIn("f" * 64, text, os.path.basename(name))
            self.assertNotIn("9" * 40, text, os.path.basename(name))
            self.assertNotRegex(text, r"wck_[0-9a-f]{16}",
                                os.path.basename(name))


class ApiRoundTrips(StackCase):
    """The gate is one statement (the key, its right to the workspace and
    the workspace's row), the request's first round trip, with no ping
    before it; last_used_at costs one write a minute, not one a request.
    Counted by the server as test_roundtrips.py counts the settings page
    (its docstring says how); this stack's MariaDB serves only it."""
    workers = 1
    TRIPS = ("Questions", "Com_stmt_prepare", "Com_stmt_close",
             "Com_stmt_reset", "Com_admin_commands")
    SHOWN = TRIPS + ("Com_stmt_execute", "Com_update")

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "trips-api", "Trips")

    def status(self):
        out = self.st.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                          % ", ".join("'%s'" % n for n in self.SHOWN))
        return {k: int(v) for k, v in
                (line.split("\t") for line in out.splitlines())}

    def counted(self, fn):
        a = self.status()
        b = self.status()
        fn()
        c = self.status()
        return {k: (c[k] - b[k]) - (b[k] - a[k]) for k in self.SHOWN}

    def test_gate_is_one_round_trip(self):
        key = self.st.admin("api-key", "add", "trips", "--scopes",
                            "connection:read").stdout.strip()
        h = {"Authorization": "Bearer " + key}

        def load(n):
            for _ in range(n):
                r = request(self.port, "GET",
                            "/api/v1/w/trips-api/connection", headers=h)
                self.assertEqual(r.status, 200, r.text[:300])
        load(3)  # prepares what the route runs, and writes last_used_at
        n = 20
        d = self.counted(lambda: load(n))
        print("\nGET /connection, per request: %s" % ", ".join(
            "%s %.2f" % (k, d[k] / n) for k in self.SHOWN))
        # The gate, then status.c's four reads of the workspace (the
        # fourth the outbox at a glance, issue 13).
        self.assertEqual(d["Com_stmt_execute"], 5 * n, d)
        self.assertEqual(d["Com_stmt_prepare"], 0, d)
        self.assertEqual(d["Com_update"], 0, d)
        self.assertEqual(sum(d[k] for k in self.TRIPS), 5 * n, d)
        # A refused key costs the one statement and nothing else.
        bad = {"Authorization": "Bearer wck_" + "0" * 64}
        request(self.port, "GET", "/api/v1/w/trips-api/connection",
                headers=bad)
        d = self.counted(lambda: [request(
            self.port, "GET", "/api/v1/w/trips-api/connection",
            headers=bad) for _ in range(n)])
        self.assertEqual(d["Com_stmt_execute"], n, d)
        self.assertLessEqual(sum(d[k] for k in self.TRIPS), n, d)

    def test_zz_database_down_is_503_then_back(self):
        key = self.st.admin("api-key", "add", "trips-down", "--scopes",
                            "connection:read").stdout.strip()
        h = {"Authorization": "Bearer " + key}
        path = "/api/v1/w/trips-api/connection"
        self.assertEqual(request(self.port, "GET", path, headers=h).status,
                         200)
        self.st.stop_mariadb()
        try:
            r = request(self.port, "GET", path, headers=h)
            self.assertEqual(r.status, 503, r.text[:300])
            self.assertEqual(json.loads(r.text)["error"]["code"],
                             "unavailable")
        finally:
            self.st.start_mariadb()
        # The gate's read is the connection's check: a second try on a
        # new connection, not a 503.
        r = request(self.port, "GET", path, headers=h)
        self.assertEqual(r.status, 200, r.text[:300])
