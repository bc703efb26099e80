"""Issue 11: POST /api/v1/w/{slug}/media and /uploads through lighttpd, the
pool, MariaDB and the Meta sandbox: the bytes reach Meta exactly, types and
sizes are refused before the body is read, Meta's failures come back in the
contract's codes, an upload is resumed from Meta's file_offset only, and
the workspace's token never shows in an answer, a log or a URL."""
import glob
import hashlib
import json
import os
import re

from base import StackCase
from stack import APP_ID
from client import FastCGIRequest, request
from meta import (PHONE, PHONE2, Sandbox, add_number, post_form,
                  settings_path, sign_in, start_connect)

PW = "media test password"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
PDF = b"%PDF-1.4\n" + b"\x00\xff binary \r\n" * 500 + b"%%EOF\n"
OGG = b"OggS\x00\x02" + os.urandom(3000)
MIB = 1 << 20


class ApiMedia(StackCase):
    workers = 2
    sandbox = True
    answers = []  # every API answer's text, for the token check

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "media-a", "Media A")
        cls.st.admin("workspace", "add", "media-b", "Media B")
        cls.st.admin("user", "add", "media-a", "mia@a.example",
                     input=PW + "\n")
        cls.keys = {}
        for name, scopes, ws in (("m-a", "media:write", "media-a"),
                                 ("m-b", "media:write", "media-b"),
                                 ("send-a", "messages:send", "media-a")):
            r = cls.st.admin("api-key", "add", name, "--scopes", scopes,
                             "--workspace", ws)
            cls.keys[name] = r.stdout.strip()

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        if not type(self).__dict__.get("connected", False):
            self.sb.reset()
            b = sign_in(self.port, "mia@a.example", PW)
            r = b.get(self.sb.decide(start_connect(b, "media-a")))
            self.assertEqual(r.status, 303, r.text[:300])
            add_number(b, "media-a", PHONE)
            add_number(b, "media-a", PHONE2)
            type(self).connected = True
        self.sb.clear_injections()
        self.sb.call("POST", "/_sandbox/requests/clear", {})

    # -- helpers --------------------------------------------------------------

    def post(self, route, data, ctype=None, key="m-a", slug="media-a",
             query="", headers=None):
        h = {"Authorization": "Bearer " + self.keys[key]}
        if ctype is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        r = request(self.port, "POST", "/api/v1/w/%s/%s%s" % (slug, route,
                                                              query),
                    body=data, headers=h, timeout=60)
        ApiMedia.answers.append(r.text)
        return r

    def error(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:400])
        self.assertEqual(r.header("Content-Type"), "application/json")
        body = json.loads(r.text)
        self.assertEqual(body["error"]["code"], code, r.text)
        return body["error"]

    def meta_calls(self):
        return [q for q in self.sb.requests()
                if q["endpoint"] in ("media", "uploads", "upload_data",
                                     "upload_status")]

    def token(self):
        toks = {q["access_token"] for q in self.sb.requests()
                if q.get("access_token")}
        self.assertEqual(len(toks), 1, toks)
        return toks.pop()

    # -- POST /media -------------------------------------------------------

    def test_media_exact_bytes_and_type_reach_meta(self):
        for ctype, data in (("image/png", PNG), ("application/pdf", PDF),
                            ("audio/ogg; codecs=opus", OGG)):
            with self.subTest(ctype=ctype):
                self.sb.call("POST", "/_sandbox/requests/clear", {})
                r = self.post("media", data, ctype)
                self.assertEqual(r.status, 200, r.text)
                self.assertEqual(r.header("Content-Type"), "application/json")
                mid = json.loads(r.text)["media_id"]
                self.assertEqual(list(json.loads(r.text)), ["media_id"])
                calls = self.sb.requests("media")
                self.assertEqual(len(calls), 1)
                c = calls[0]
                mime = ctype.split(";")[0]
                self.assertEqual(c["path"], "/v25.0/%s/media" % PHONE)
                self.assertEqual(c["body"], {"messaging_product": "whatsapp",
                                             "type": mime})
                f = c["files"]["file"]
                self.assertEqual((f["size"], f["sha256"], f["type"]),
                                 (len(data), hashlib.sha256(data).hexdigest(),
                                  mime))
                self.assertTrue(c["content_type"].startswith(
                    "multipart/form-data; boundary="))
                self.assertEqual(c["token_via"], "header")
                self.assertTrue(c["authorization"].startswith("Bearer "))
                self.assertEqual(c["appsecret_proof"],
                                 self.sb.proof(c["access_token"]))
                got = self.sb.state()["media"][mid]
                self.assertEqual(got["sha256"], hashlib.sha256(data).hexdigest())

    def test_media_from_another_active_number(self):
        r = self.post("media", PNG, "image/png", query="?from=" + PHONE2)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(self.sb.requests("media")[0]["path"],
                         "/v25.0/%s/media" % PHONE2)
        for bad in ("?from=106540352242999", "?from=abc", "?from="):
            with self.subTest(bad=bad):
                self.error(self.post("media", PNG, "image/png", query=bad),
                           400, "invalid_request")
        self.assertEqual(len(self.sb.requests("media")), 1)

    def test_media_type_and_body_refused_before_meta(self):
        e = self.error(self.post("media", b"GIF89a", "image/gif"), 400,
                       "invalid_request")
        self.assertIn("image/jpeg", e["message"])
        self.error(self.post("media", PNG), 400, "invalid_request")
        self.error(self.post("media", b"", "image/png"), 400,
                   "invalid_request")
        # Only the bytes tell: a static WebP sticker is 100 KiB at most.
        static = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * (200 << 10)
        self.error(self.post("media", static, "image/webp"), 413, "too_large")
        animated = (b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02"
                    + b"\x00" * (200 << 10))
        self.assertEqual(self.post("media", animated, "image/webp").status,
                         200)
        self.assertEqual(len(self.meta_calls()), 1)

    def test_media_size_limit_per_type(self):
        ok = b"\xff\xd8" + b"\x01" * (5 * MIB - 2)
        self.assertEqual(self.post("media", ok, "image/jpeg").status, 200)
        e = self.error(self.post("media", ok + b"x", "image/jpeg"), 413,
                       "too_large")
        self.assertIn("5 MiB", e["message"])
        self.assertEqual(len(self.sb.requests("media")), 1)
        # The larger limits are for these two paths only (the web
        # server's, or the route's own when the server lets it through).
        r = request(self.port, "POST", "/login", body=ok,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 413)
        self.assertEqual(len(self.sb.requests("media")), 1)

    def fcgi(self, route, length, ctype, key="m-a", slug="media-a"):
        """A request straight to the pool that announces a body and sends
        none: an answer proves the body was not read."""
        q = FastCGIRequest(self.st.pool_socket, "POST",
                           "/api/v1/w/%s/%s" % (slug, route), length, ctype,
                           extra={"HTTP_AUTHORIZATION":
                                  "Bearer " + self.keys[key]})
        raw = q.read_response().decode("latin-1")
        head, _, body = raw.partition("\r\n\r\n")
        ApiMedia.answers.append(body)
        return int(re.search(r"Status: (\d+)", head).group(1)), body

    def test_refusals_come_before_the_body_is_read(self):
        if self.web != "lighttpd":
            self.skipTest("the pool's socket: lighttpd's stack")
        for args, want in ((("media", 5 * MIB + 1, "image/png"), 413),
                           (("media", 16 * MIB + 1, "video/mp4"), 413),
                           (("uploads", 101 * MIB, "application/pdf"), 413),
                           (("media", 1000, "image/png", "send-a"), 403),
                           (("media", 1000, "image/png", "m-b"), 404)):
            with self.subTest(args=args):
                status, body = self.fcgi(*args)
                self.assertEqual(status, want, body)
                self.assertEqual(json.loads(body)["error"]["code"],
                                 {413: "too_large", 403: "forbidden",
                                  404: "not_found"}[want])
        self.assertEqual(self.meta_calls(), [])

    def test_scope_and_other_workspace_send_nothing(self):
        self.error(self.post("media", PNG, "image/png", key="send-a"), 403,
                   "forbidden")
        self.error(self.post("media", PNG, "image/png", key="m-b"), 404,
                   "not_found")
        self.error(self.post("uploads", PNG, "image/png", key="m-b",
                             headers={"X-File-Name": "a.png"}), 404,
                   "not_found")
        # media-b's own key on media-b: not connected, and nothing sent.
        self.error(self.post("media", PNG, "image/png", key="m-b",
                             slug="media-b"), 409, "not_connected")
        self.assertEqual(self.meta_calls(), [])

    def test_meta_5xx_is_502_and_never_repeated(self):
        self.sb.inject("media", "html")
        e = self.error(self.post("media", PNG, "image/png"), 502,
                       "meta_unavailable")
        self.assertIn("not repeated", e["message"])
        self.assertEqual(len(self.sb.requests("media")), 1)
        self.sb.inject("media", "131053")
        e = self.error(self.post("media", PNG, "image/png"), 422,
                       "meta_rejected")
        self.assertEqual(e["meta"]["code"], 131053)
        # Meta's rate limit says it did nothing, so the transport may ask
        # again (graph.h); when it keeps refusing, 429 with Retry-After.
        self.sb.inject("media", "429", count=10)
        r = self.post("media", PNG, "image/png")
        self.error(r, 429, "rate_limited")
        self.assertTrue(r.header("Retry-After"))

    def test_zz_190_is_409_needs_reconnect(self):
        self.sb.inject("media", "190")
        e = self.error(self.post("media", PNG, "image/png"), 409,
                       "needs_reconnect")
        self.assertEqual(e["meta"]["code"], 190)
        self.assertEqual(self.st.sql("SELECT status FROM connection",
                                     db="waba_ws_1").strip(),
                         "needs_reconnect")
        # The next call is answered from the stored state: Meta not asked.
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        self.error(self.post("uploads", PDF, "application/pdf",
                             headers={"X-File-Name": "a.pdf"}), 409,
                   "needs_reconnect")
        self.assertEqual(self.meta_calls(), [])
        self.st.sql("UPDATE connection SET status = 'connected', reason = ''",
                    db="waba_ws_1")

    # -- POST /uploads ----------------------------------------------------

    def upload(self, data, ctype="application/pdf", name="menu 2024.pdf"):
        return self.post("uploads", data, ctype,
                         headers={} if name is None else {"X-File-Name": name})

    def test_upload_gives_handle_session_and_offset_as_meta_saw(self):
        r = self.upload(PDF)
        self.assertEqual(r.status, 200, r.text)
        handle = json.loads(r.text)["handle"]
        self.assertEqual(list(json.loads(r.text)), ["handle"])
        calls = self.meta_calls()
        self.assertEqual([c["endpoint"] for c in calls],
                         ["uploads", "upload_data"])
        s, d = calls
        self.assertEqual(s["path"], "/v25.0/%s/uploads" % APP_ID)
        self.assertEqual((s["query"]["file_name"], s["query"]["file_length"],
                          s["query"]["file_type"]),
                         ("menu 2024.pdf", str(len(PDF)), "application/pdf"))
        self.assertTrue(d["path"].startswith("/v25.0/upload:"), d["path"])
        self.assertIn("sig", d["query"])
        self.assertEqual(d["file_offset_header"], "0")
        self.assertTrue(d["authorization"].startswith("OAuth "))
        self.assertEqual((d["raw_size"], d["raw_sha256"]),
                         (len(PDF), hashlib.sha256(PDF).hexdigest()))
        sess = [u for u in self.sb.state()["uploads"].values()
                if u.get("h") == handle]
        self.assertEqual(len(sess), 1)
        self.assertEqual(sess[0]["sha256"], hashlib.sha256(PDF).hexdigest())
        for c in calls:
            self.assertEqual(c["token_via"], "header")
            self.assertNotIn("access_token", c["query"])

    def test_upload_names_and_types_refused(self):
        self.error(self.upload(PDF, name=None), 400, "invalid_request")
        for bad in ("../etc/passwd", "a\\b.pdf", ".."):
            with self.subTest(name=bad):
                self.error(self.upload(PDF, name=bad), 400, "invalid_request")
        for ctype in ("image/webp", "audio/ogg", "text/plain"):
            with self.subTest(ctype=ctype):
                e = self.error(self.upload(PDF, ctype=ctype), 400,
                               "invalid_request")
                self.assertIn("video/mp4", e["message"])
        self.error(self.upload(b""), 400, "invalid_request")
        self.error(self.upload(b"\x00" * (5 * MIB + 1), "image/png"), 413,
                   "too_large")
        self.assertEqual(self.meta_calls(), [])

    def test_interrupted_upload_resumes_from_metas_offset(self):
        self.sb.inject("upload_data", "partial")
        r = self.upload(PNG, "image/png", "head.png")
        self.assertEqual(r.status, 200, r.text)
        calls = self.meta_calls()
        self.assertEqual([c["endpoint"] for c in calls],
                         ["uploads", "upload_data", "upload_status",
                          "upload_data"])
        half = len(PNG) // 2
        self.assertEqual([c["file_offset_header"] for c in calls
                          if c["endpoint"] == "upload_data"], ["0", str(half)])
        self.assertEqual(calls[3]["raw_sha256"],
                         hashlib.sha256(PNG[half:]).hexdigest())
        self.assertTrue(calls[2]["authorization"].startswith("OAuth "))
        sess = [u for u in self.sb.state()["uploads"].values()
                if u.get("h") == json.loads(r.text)["handle"]]
        self.assertEqual(sess[0]["sha256"], hashlib.sha256(PNG).hexdigest())

    def test_lost_handle_is_502_not_a_second_upload(self):
        # The edge's 504 after Meta took every byte: nothing to resume.
        self.sb.inject("upload_data", "html")
        self.error(self.upload(PDF), 502, "meta_unavailable")
        self.assertEqual([c["endpoint"] for c in self.meta_calls()],
                         ["uploads", "upload_data", "upload_status"])
        # Meta's refusal of the session is final too.
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        self.sb.inject("uploads", "500", http_status=503, code=1)
        self.error(self.upload(PDF), 502, "meta_unavailable")
        self.assertEqual([c["endpoint"] for c in self.meta_calls()],
                         ["uploads"])

    def test_zzz_token_never_in_answers_logs_or_urls(self):
        self.assertEqual(self.upload(PDF).status, 200)
        self.assertEqual(self.post("media", PNG, "image/png").status, 200)
        token = self.token()
        for text in ApiMedia.answers:
            self.assertNotIn(token, text)
        for q in self.sb.requests():
            self.assertNotIn(token, q["path"])
            self.assertNotIn(token, json.dumps(q["query"]))
        names = glob.glob(self.st.path("*.log")) + glob.glob(
            self.st.path("*.err"))
        self.assertTrue(names)
        for name in names:
            if "sandbox" in os.path.basename(name):
                continue  # Meta's side: it holds the token by design
            with open(name, errors="replace") as f:
                self.assertNotIn(token, f.read(), os.path.basename(name))


class ApiMediaApache(ApiMedia):
    """The same through Apache (mod_proxy_fcgi) and the shipped limits block,
    whose LocationMatch lets only these two paths past 4 MiB."""
    web = "apache"
