"""POST /api/v1/w/{slug}/messages through lighttpd, the pool, MariaDB and
the Meta sandbox (doc/contract.md, Internal API: Sending messages): every
message type, the sending number, the key gate, edge refusals, Meta's
errors mapped, 190 → needs_reconnect, Idempotency-Key, send health, and
no token anywhere it must not be."""
import glob
import hashlib
import json
import re
import threading
import time

from base import StackCase
from client import request
from gateway import (add_key, add_sender, hand_edit_seen, send, side_by_side,
                     ws_db)
from meta import Sandbox, post_webhook, sign_in
from stack import wait_for

WABA_A, PHONE_A, PHONE_A2 = "500000000001", "600000000001", "600000000002"
WABA_B, PHONE_B = "500000000002", "600000000003"
WABA_R, PHONE_R = "500000000003", "600000000004"
WABA_H, PHONE_H = "500000000004", "600000000005"
PW = "gateway test password"
TO = "4915112345678"
WAMID = "wamid.HBgMNDkxNTExMjM0NTY3OBUCABIYFDNBQjEyMzQ1Njc4OTBBQkNERUYA"

# One valid message of each type Meta documents (Cloud API "Messages").
MESSAGES = {
    "text": {"text": {"body": "hello", "preview_url": False}},
    "image": {"image": {"id": "1479537139650973", "caption": "a cat"}},
    "audio": {"audio": {"link": "https://example.com/a.ogg"}},
    "video": {"video": {"id": "1166846181421424", "caption": "clip"}},
    "document": {"document": {"link": "https://example.com/a.pdf",
                              "filename": "a.pdf"}},
    "sticker": {"sticker": {"id": "798882015472548"}},
    "location": {"location": {"latitude": "37.4847", "longitude": "-122.1473",
                              "name": "HQ", "address": "1 Hacker Way"}},
    "contacts": {"contacts": [{"name": {"formatted_name": "Ana B",
                                        "first_name": "Ana"},
                               "phones": [{"phone": "+4915100000", "type": "CELL"}]}]},
    "interactive": {"interactive": {
        "type": "button", "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply",
                                "reply": {"id": "y", "title": "Yes"}}]}}},
    "template": {"template": {"name": "hello_world",
                              "language": {"code": "en_US"}}},
    "reaction": {"reaction": {"message_id": WAMID, "emoji": "\U0001F44D"}},
}


class ApiMessages(StackCase):
    workers = 3
    sandbox = True
    config = {"meta.timeout_ms": 1500, "meta.max_retries": 1,
              "server.max_body": 16384}

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        for slug in ("msg-a", "msg-b", "msg-r", "msg-h"):
            cls.st.admin("workspace", "add", slug, slug.upper())
        cls.st.admin("user", "add", "msg-r", "rita@r.example", input=PW + "\n")
        cls.st.admin("user", "add", "msg-a", "anna@a.example", input=PW + "\n")
        cls.st.admin("user", "add", "msg-h", "hana@h.example", input=PW + "\n")
        cls.tokens = [add_sender(cls.st, cls.sb, "msg-a", WABA_A, PHONE_A),
                      add_sender(cls.st, cls.sb, "msg-a", WABA_A, PHONE_A2,
                                 default=False),
                      add_sender(cls.st, cls.sb, "msg-b", WABA_B, PHONE_B),
                      add_sender(cls.st, cls.sb, "msg-r", WABA_R, PHONE_R),
                      # Sent to by the send health tests alone.
                      add_sender(cls.st, cls.sb, "msg-h", WABA_H, PHONE_H)]
        cls.key = add_key(cls.st, "sender", "messages:send")
        cls.key_a = add_key(cls.st, "sender-a", "messages:send", ["msg-a"])
        cls.key_read = add_key(cls.st, "reader", "connection:read")
        cls.key_events = add_key(cls.st, "feed", "events:read")

    def setUp(self):
        self.sb.clear_injections()

    # -- helpers -------------------------------------------------------
    def posts(self, phone=None):
        return [q for q in self.sb.requests("messages") if q["method"] == "POST"
                and (phone is None or q["path"].endswith("/%s/messages" % phone))]

    def error(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:400])
        self.assertEqual(r.header("Content-Type"), "application/json")
        body = json.loads(r.text)
        self.assertEqual(body["error"]["code"], code, r.text)
        return body["error"]

    def msg(self, kind="text", **over):
        body = {"to": TO, "type": kind}
        body.update(MESSAGES[kind])
        body.update(over)
        return body

    def sent(self, slug, key):
        """A send; the bulkhead turns one away (503, nothing sent) while
        another worker is inside Meta's call: asked again."""
        for _ in range(200):
            r = send(self.port, slug, key, self.msg())
            if r.status != 503:
                return r
            time.sleep(0.02)
        return r

    def status_json(self, slug):
        return json.loads(self.st.admin("status", slug, "--json").stdout)

    # -- success -------------------------------------------------------
    def test_every_type_is_sent_as_given(self):
        for kind in MESSAGES:
            with self.subTest(kind=kind):
                n = len(self.posts())
                body = self.msg(kind, context={"message_id": WAMID})
                r = send(self.port, "msg-a", self.key, body)
                self.assertEqual(r.status, 200, r.text)
                got = json.loads(r.text)
                self.assertEqual(sorted(got), ["from", "message_id", "to"])
                self.assertTrue(got["message_id"].startswith("wamid."))
                self.assertEqual(got["to"], TO)
                self.assertEqual(got["from"], PHONE_A)
                sent = self.posts()
                self.assertEqual(len(sent) - n, 1)
                want = dict(body, messaging_product="whatsapp")
                self.assertEqual(sent[-1]["body"], want)
                self.assertTrue(sent[-1]["path"].endswith("/%s/messages" % PHONE_A))
                msg = [m for m in self.sb.state()["messages"]
                       if m["id"] == got["message_id"]]
                self.assertEqual(msg[0]["type"], kind)

    def test_bsuid_and_plus_are_recipients(self):
        r = send(self.port, "msg-a", self.key, self.msg(to="US.13491208655302741918"))
        self.assertEqual(r.status, 200, r.text)
        # Meta gives no wa_id for a business-scoped user id: to as sent.
        self.assertEqual(json.loads(r.text)["to"], "US.13491208655302741918")
        r = send(self.port, "msg-a", self.key, self.msg(to="+" + TO))
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(json.loads(r.text)["to"], TO)

    def test_from_another_own_number(self):
        n = len(self.posts(PHONE_A2))
        r = send(self.port, "msg-a", self.key, self.msg(**{"from": PHONE_A2}))
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(json.loads(r.text)["from"], PHONE_A2)
        self.assertEqual(len(self.posts(PHONE_A2)) - n, 1)
        self.assertNotIn("from", self.posts(PHONE_A2)[-1]["body"])

    def test_from_another_workspace_is_refused_and_nothing_sent(self):
        n = len(self.posts())
        for phone in (PHONE_B, "123456789", "6000000000031"):
            r = send(self.port, "msg-a", self.key, self.msg(**{"from": phone}))
            e = self.error(r, 400, "invalid_request")
            self.assertIn("from", e["message"])
        # A number the workspace has but that cannot send yet.
        self.st.sql("UPDATE phone_numbers SET state = 'unverified' WHERE id = '%s'"
                    % PHONE_A2, db=ws_db(self.st, "msg-a"))
        try:
            self.error(send(self.port, "msg-a", self.key,
                            self.msg(**{"from": PHONE_A2})), 400, "invalid_request")
        finally:
            self.st.sql("UPDATE phone_numbers SET state = 'active' WHERE id = '%s'"
                        % PHONE_A2, db=ws_db(self.st, "msg-a"))
        self.assertEqual(len(self.posts()), n)

    # -- the gate ------------------------------------------------------
    def test_keys_that_may_not_send_send_nothing(self):
        gone = add_key(self.st, "gone", "messages:send")
        self.st.admin("api-key", "revoke", "gone")
        n = len(self.posts())
        self.error(send(self.port, "msg-a", None, self.msg()), 401, "unauthorized")
        self.error(send(self.port, "msg-a", gone, self.msg()), 401, "unauthorized")
        self.error(send(self.port, "msg-a", self.key_read, self.msg()), 403,
                   "forbidden")
        self.error(send(self.port, "msg-b", self.key_a, self.msg()), 404,
                   "not_found")
        self.error(send(self.port, "nope", self.key, self.msg()), 404, "not_found")
        self.assertEqual(len(self.posts()), n)

    def test_key_grant_and_connection_read_again(self):
        # Every worker has sent for msg-b (the gate's one statement for a
        # send names a database it has seen, and its answer is reused a
        # moment): the key's grant and scope still hold for each request,
        # a hand edit of the connection is seen once the lease is over,
        # a revoke as soon as the command is done.
        # Sent three at a time (side_by_side): one after the other, they
        # may all find the same worker.
        later = add_key(self.st, "revoked-later", "messages:send")
        n = len(self.posts(PHONE_B))
        rs = self.spread(lambda: self.sent("msg-b", later), 200)
        self.assertEqual([r.status for r in rs], [200] * len(rs))
        self.assertEqual(len(self.posts(PHONE_B)) - n, len(rs))
        self.error(send(self.port, "msg-b", self.key_a, self.msg()), 404,
                   "not_found")
        self.error(send(self.port, "msg-b", self.key_read, self.msg()), 403,
                   "forbidden")
        db = ws_db(self.st, "msg-b")
        self.st.sql("UPDATE connection SET status = 'needs_reconnect', "
                    "reason = 'test: expired' WHERE id = 1", db=db)
        hand_edit_seen()
        try:
            for _ in range(6):
                e = self.error(send(self.port, "msg-b", later, self.msg()),
                               409, "needs_reconnect")
                self.assertEqual(e["message"], "test: expired")
        finally:
            self.st.sql("UPDATE connection SET status = 'connected', "
                        "reason = NULL WHERE id = 1", db=db)
        hand_edit_seen()
        self.assertEqual(send(self.port, "msg-b", later, self.msg()).status, 200)
        self.st.admin("api-key", "revoke", "revoked-later")
        n = len(self.posts())
        for r in self.spread(
                lambda: send(self.port, "msg-b", later, self.msg()), 401):
            self.error(r, 401, "unauthorized")
        self.assertEqual(len(self.posts()), n)
        # Both kinds of answer came from more than one worker.
        for status in (200, 401):
            pids = self.answered_by(status)
            self.assertGreaterEqual(len(pids), 2, (status, pids))

    def answered_by(self, status):
        """The workers whose log shows a send for msg-b answered status."""
        with open(self.st.path("pool.log"), errors="replace") as f:
            return set(re.findall(
                r"\[(\d+)\] \w+: POST /api/v1/w/msg-b/messages %d " % status,
                f.read()))

    def spread(self, one, status):
        """Rounds of side_by_side(one, 12, 3) until answers of status
        came from two workers, at most 8: three threads at once reach
        both workers nearly always, but a connection wakes whichever
        idle worker the kernel picks, and a fast one may take them all
        (seen once in CI). Returns every answer."""
        out = []
        for _ in range(8):
            out += side_by_side(one, 12, 3)
            if len(self.answered_by(status)) >= 2:
                break
        return out

    # -- edge refusals -------------------------------------------------
    def test_bad_bodies_are_refused_and_nothing_sent(self):
        n = len(self.posts())
        cases = [
            (b"{not json", 400), (b"[1,2]", 400), (b"", 400),
            (json.dumps(self.msg(text={"body": "x" * 20000})).encode(), 413),
        ]
        # What a lenient parser would guess at (json-c's defaults take
        # every one of these) is refused, never sent on to Meta.
        good = json.dumps(self.msg()).encode()
        cases += [(good + b" garbage", 400), (good + good, 400),
                  (good.replace(b'"', b"'"), 400),
                  (good[:-1] + b",}", 400),
                  (good.replace(b'"hello"', b'"\xff\xfe"'), 400)]
        for raw, status in cases:
            r = send(self.port, "msg-a", self.key, None, raw=raw)
            self.error(r, status, "too_large" if status == 413 else "invalid_request")
        bad = [
            {"to": TO, "text": {"body": "x"}},                      # no type
            self.msg(type="carousel"),                              # unknown type
            {"to": TO, "type": "image"},                            # no image object
            {"to": TO, "type": "text", "text": "hello"},            # not an object
            self.msg(image={"id": "1"}),                            # another type's
            self.msg(messaging_product="sms"),
            self.msg(to="12ab"), self.msg(to="123"), self.msg(to=4915112345678),
            self.msg(recipient_type="broadcast"),
            self.msg(context={"message_id": "bad id"}),
            self.msg(context={"message_id": WAMID, "x": 1}),
            self.msg(extra=1),
            self.msg(biz_opaque_callback_data="x" * 600),
            self.msg(**{"from": 600000000001}),
            {"to": TO, "type": "contacts", "contacts": []},
        ]
        for body in bad:
            with self.subTest(body=json.dumps(body)[:80]):
                self.error(send(self.port, "msg-a", self.key, body), 400,
                           "invalid_request")
        # (An empty header never reaches us: lighttpd passes none.)
        for idem in ("x" * 65, "with space", "tab\tkey", "caf\u00e9"):
            self.error(send(self.port, "msg-a", self.key, self.msg(), idem=idem),
                       400, "invalid_request")
        self.assertEqual(len(self.posts()), n)
        # messaging_product "whatsapp" is taken (it is what we send anyway).
        r = send(self.port, "msg-a", self.key, self.msg(messaging_product="whatsapp"))
        self.assertEqual(r.status, 200, r.text)

    # -- Meta's errors -------------------------------------------------
    def test_meta_refusal_is_422_with_meta(self):
        for error in ("131026", "131051", "param", "131047"):
            self.sb.clear_injections()
            self.sb.inject("messages", error, fbtrace_id="Trace" + error)
            n = len(self.posts())
            e = self.error(send(self.port, "msg-a", self.key, self.msg()), 422,
                           "meta_rejected")
            self.assertEqual(e["meta"]["fbtrace_id"], "Trace" + error)
            self.assertEqual(e["meta"]["code"], 100 if error == "param" else int(error))
            self.assertEqual(len(self.posts()) - n, 1)

    def test_rate_limits_are_429_with_retry_after(self):
        for error, kw, wait in (("429", {}, "1"), ("131056", {}, "6"),
                                ("131048", {}, "60"), ("429", {"code": 80007}, "60")):
            self.sb.clear_injections()
            self.sb.inject("messages", error, count=5, **kw)
            r = send(self.port, "msg-a", self.key, self.msg())
            e = self.error(r, 429, "rate_limited")
            self.assertIn("code", e["meta"])
            self.assertEqual(r.header("Retry-After"), wait, error)
        self.sb.clear_injections()
        self.assertEqual(send(self.port, "msg-a", self.key, self.msg())
                         .header("Retry-After"), None)
        self.sb.inject("messages", "131056", count=5)
        r = send(self.port, "msg-a", self.key, self.msg())
        self.assertEqual(r.header("Retry-After"), "6")
        self.sb.clear_injections()
        self.sb.inject("messages", "429", count=5)
        r = send(self.port, "msg-a", self.key, self.msg())
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("Retry-After"), "1")

    def test_bare_5xx_is_502_and_sent_once(self):
        for status in (502, 504):
            self.sb.clear_injections()
            self.sb.inject("messages", "html", http_status=status)
            n = len(self.posts())
            e = self.error(send(self.port, "msg-a", self.key, self.msg()), 502,
                           "meta_unavailable")
            self.assertIn("may have acted", e["message"])
            self.assertEqual(len(self.posts()) - n, 1)

    def test_connection_lost_after_the_send_is_502_and_sent_once(self):
        """Meta acted, then the kept-alive connection closed without a
        byte of answer: libcurl would send the POST again on a fresh
        connection (it cannot tell this from an idle close); the gateway
        stops that second request and says Meta may have acted."""
        for _ in range(4):  # each worker's connection to Meta, kept alive
            self.assertEqual(send(self.port, "msg-a", self.key,
                                  self.msg()).status, 200)
        for i in range(3):
            self.sb.clear_injections()
            self.sb.inject("messages", "drop")
            n = len(self.posts())
            e = self.error(send(self.port, "msg-a", self.key, self.msg(
                text={"body": "dropped %d" % i})), 502, "meta_unavailable")
            self.assertIn("may have acted", e["message"])
            self.assertEqual(len(self.posts()) - n, 1, "sent again")

    def test_190_marks_needs_reconnect_once(self):
        self.sb.inject("messages", "190", count=1)
        n = len(self.posts(PHONE_R))
        e = self.error(send(self.port, "msg-r", self.key, self.msg()), 409,
                       "needs_reconnect")
        self.assertEqual(e["meta"]["code"], 190)
        self.assertEqual(len(self.posts(PHONE_R)) - n, 1)
        st = self.status_json("msg-r")
        self.assertEqual(st["status"], "needs_reconnect")
        self.assertTrue(st["reason"])
        # The next calls, on every worker, are refused without Meta
        # (GateLease shows it for workers that had read it connected).
        for r in side_by_side(
                lambda: send(self.port, "msg-r", self.key, self.msg()), 12, 3):
            self.assertNotIn("meta", self.error(r, 409, "needs_reconnect"))
        self.assertEqual(len(self.posts(PHONE_R)) - n, 1)
        b = sign_in(self.port, "rita@r.example", PW)
        page = b.get("/w/msg-r/settings/whatsapp")
        self.assertIn('id="reconnect-banner"', page.text)
        self.assertIn(st["reason"], page.text)
        self.assertEqual(self.status_json("msg-r")["sends"]["failed_1h"], 1)
        # And one connection event in the feed, for all these refusals.
        r = request(self.port, "GET", "/api/v1/w/msg-r/events?limit=1000",
                    headers={"Authorization": "Bearer " + self.key_events})
        self.assertEqual(r.status, 200, r.text[:300])
        got = [e["object"] for e in json.loads(r.text)["events"]
               if e["type"] == "connection"]
        self.assertEqual(got, [{"state": "needs_reconnect",
                                "reason": st["reason"]}])

    # -- idempotency ---------------------------------------------------
    def test_same_key_twice_sends_once_and_replays(self):
        body = self.msg(text={"body": "idem once"})
        n = len(self.posts())
        r1 = send(self.port, "msg-a", self.key, body, idem="order-1")
        self.assertEqual(r1.status, 200, r1.text)
        self.assertIsNone(r1.header("Idempotent-Replayed"))
        r2 = send(self.port, "msg-a", self.key, body, idem="order-1")
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.header("Idempotent-Replayed"), "true")
        self.assertEqual(r2.header("Content-Type"), "application/json")
        self.assertEqual(r2.text, r1.text)
        self.assertEqual(len(self.posts()) - n, 1)
        # The same key in another workspace is another key.
        r3 = send(self.port, "msg-b", self.key, body, idem="order-1")
        self.assertEqual(r3.status, 200)
        self.assertIsNone(r3.header("Idempotent-Replayed"))
        # Another body under the key: refused, and said so.
        e = self.error(send(self.port, "msg-a", self.key,
                            self.msg(text={"body": "other"}), idem="order-1"),
                       400, "invalid_request")
        self.assertIn("different request", e["message"])
        self.assertEqual(len(self.posts()) - n, 2)

    def test_kept_failures_replay_and_refusals_release(self):
        # A 422 is kept: the retry gets it back and Meta is not asked again.
        self.sb.inject("messages", "131026")
        body = self.msg(text={"body": "idem 422"})
        n = len(self.posts())
        self.error(send(self.port, "msg-a", self.key, body, idem="k-422"), 422,
                   "meta_rejected")
        r = send(self.port, "msg-a", self.key, body, idem="k-422")
        self.error(r, 422, "meta_rejected")
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.posts()) - n, 1)
        # A bare 5xx may have been sent: kept too, never sent again.
        self.sb.inject("messages", "html", http_status=502)
        body = self.msg(text={"body": "idem 502"})
        self.error(send(self.port, "msg-a", self.key, body, idem="k-502"), 502,
                   "meta_unavailable")
        r = send(self.port, "msg-a", self.key, body, idem="k-502")
        self.error(r, 502, "meta_unavailable")
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.posts()) - n, 2)
        # A rate limit proves nothing was sent: released, the retry sends.
        self.sb.inject("messages", "131056", count=2)
        body = self.msg(text={"body": "idem 429"})
        self.error(send(self.port, "msg-a", self.key, body, idem="k-429"), 429,
                   "rate_limited")
        r = send(self.port, "msg-a", self.key, body, idem="k-429")
        self.assertEqual(r.status, 200, r.text)
        self.assertIsNone(r.header("Idempotent-Replayed"))
        # Not connected: released before any call.
        db = ws_db(self.st, "msg-b")
        self.st.sql("UPDATE connection SET status = 'pending_phone_selection'", db=db)
        body = self.msg(text={"body": "idem nc"})
        try:
            self.error(send(self.port, "msg-b", self.key, body, idem="k-nc"), 409,
                       "not_connected")
        finally:
            self.st.sql("UPDATE connection SET status = 'connected'", db=db)
        r = send(self.port, "msg-b", self.key, body, idem="k-nc")
        self.assertEqual(r.status, 200, r.text)
        rows = self.st.sql("SELECT idem_key, state, http_status FROM api_idempotency "
                           "ORDER BY idem_key", db=ws_db(self.st, "msg-a"))
        self.assertIn("k-422\tdone\t422", rows)
        self.assertIn("k-429\tdone\t200", rows)

    def test_concurrent_same_key_one_sends_one_in_progress(self):
        body = self.msg(text={"body": "idem concurrent slow"})
        self.sb.inject("messages", "timeout", delay=1.0, match="concurrent slow")
        n = len(self.posts())
        out = {}

        def first():
            out["a"] = send(self.port, "msg-a", self.key, body, idem="k-conc")

        t = threading.Thread(target=first)
        t.start()
        time.sleep(0.4)
        out["b"] = send(self.port, "msg-a", self.key, body, idem="k-conc")
        t.join()
        self.assertEqual(out["a"].status, 200, out["a"].text)
        self.error(out["b"], 409, "in_progress")
        self.assertEqual(len(self.posts()) - n, 1)
        r = send(self.port, "msg-a", self.key, body, idem="k-conc")
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(r.text, out["a"].text)

    def test_stale_running_key_is_never_resent(self):
        body = self.msg(text={"body": "idem stale"})
        raw = json.dumps(body).encode()
        h = hashlib.sha256(raw).hexdigest()
        db = ws_db(self.st, "msg-a")
        self.st.sql("INSERT INTO api_idempotency (idem_key, request_hash, state, "
                    "created_at) VALUES ('k-stale', UNHEX('%s'), 'running', "
                    "UTC_TIMESTAMP() - INTERVAL 10 MINUTE)" % h, db=db)
        n = len(self.posts())
        e = self.error(send(self.port, "msg-a", self.key, None, raw=raw,
                            idem="k-stale"), 502, "meta_unavailable")
        self.assertIn("unknown", e["message"])
        # A claim past its 24 hours counts as absent: the key sends again.
        self.st.sql("UPDATE api_idempotency SET created_at = UTC_TIMESTAMP() - "
                    "INTERVAL 25 HOUR WHERE idem_key = 'k-stale'", db=db)
        r = send(self.port, "msg-a", self.key, None, raw=raw, idem="k-stale")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(len(self.posts()) - n, 1)
        # prune deletes what is past its 24 hours.
        self.st.sql("UPDATE api_idempotency SET created_at = UTC_TIMESTAMP() - "
                    "INTERVAL 25 HOUR WHERE idem_key = 'k-stale'", db=db)
        out = self.st.admin("prune", "--workspace", "msg-a").stdout
        self.assertIn("idempotency keys", out)
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM api_idempotency WHERE "
                                     "idem_key = 'k-stale'", db=db).strip(), "0")

    # -- send health ---------------------------------------------------
    def sends_become(self, slug, ok, failed):
        """Send health as status --json reads it once the workers have
        written their tallies (store/sends.h: at most a second after a
        send, or at once for a failure)."""
        got = {}

        def seen():
            got.update(self.status_json(slug)["sends"])
            return (got["ok_1h"], got["failed_1h"]) == (ok, failed)
        wait_for(seen, 10, "send health %d ok, %d failed" % (ok, failed))
        return got

    def test_send_health_in_status_and_page(self):
        before = self.status_json("msg-h")["sends"]
        self.assertEqual(sorted(before), ["failed_1h", "last_error", "last_error_at",
                                          "ok_1h"])
        self.assertEqual((before["ok_1h"], before["failed_1h"]), (0, 0))
        for _ in range(2):
            self.assertEqual(send(self.port, "msg-h", self.key, self.msg()).status, 200)
        self.sb.inject("messages", "131026")
        send(self.port, "msg-h", self.key, self.msg())
        # The failure is written at once, with its worker's tally.
        self.assertEqual(self.status_json("msg-h")["sends"]["failed_1h"], 1)
        after = self.sends_become("msg-h", 2, 1)
        self.assertIn("131026", after["last_error"])
        self.assertIn("not a WhatsApp number", after["last_error"])
        self.assertRegex(after["last_error_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        key = add_key(self.st, "health-reader", "connection:read")
        r = request(self.port, "GET", "/api/v1/w/msg-h/connection",
                    headers={"Authorization": "Bearer " + key})
        self.assertEqual(json.loads(r.text)["sends"], after)
        # Many sends in a burst: each counted once, none lost or doubled,
        # written by idle workers (only status --json asks meanwhile).
        for _ in range(20):
            self.assertEqual(send(self.port, "msg-h", self.key, self.msg()).status, 200)
        self.sends_become("msg-h", 22, 1)
        b = sign_in(self.port, "hana@h.example", PW)
        page = b.get("/w/msg-h/settings/whatsapp")
        self.assertEqual(page.status, 200)
        self.assertIn('id="send-health"', page.text)
        self.assertIn("22 sent, 1 failed in the last hour", page.text)
        self.assertIn("not a WhatsApp number", page.text)

    # -- secrets -------------------------------------------------------
    def test_zz_token_never_in_answers_logs_or_urls(self):
        self.sb.inject("messages", "131026")
        answers = [send(self.port, "msg-a", self.key, self.msg()),
                   send(self.port, "msg-a", self.key, self.msg())]
        self.sb.inject("messages", "html")
        answers.append(send(self.port, "msg-a", self.key, self.msg()))
        for r in answers:
            for tok in self.tokens:
                self.assertNotIn(tok, r.text)
                self.assertNotIn(tok, str(r.headers))
        logs = ""
        for path in glob.glob(self.st.path("*.log")) + glob.glob(self.st.path("*.err")):
            with open(path, errors="replace") as f:
                logs += f.read()
        for q in self.sb.requests("messages"):
            self.assertNotIn("access_token", q["query"])
            for tok in self.tokens:
                self.assertNotIn(tok, q["path"])
                self.assertNotIn(tok, json.dumps(q["query"]))
                self.assertNotIn(tok, json.dumps(q["body"]))
            self.assertEqual(q["token_via"], "header")
        for tok in self.tokens + [self.key]:
            self.assertNotIn(tok, logs)


class ApiUnavailable(StackCase):
    """503 unavailable from the gateway when Meta's capacity is spent:
    the bulkhead full (another send holds the one slot) or the breaker
    open (Meta kept failing). Meta is not called, Retry-After says when
    to come back, and the Idempotency-Key is released: a retry with the
    same key then sends, once."""
    workers = 3
    sandbox = True
    config = {"meta.max_concurrent_calls": 1, "meta.max_retries": 0,
              "meta.timeout_ms": 8000, "meta.breaker_failures": 2,
              "meta.breaker_seconds": 1}

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.st.admin("workspace", "add", "msg-u", "U")
        add_sender(cls.st, cls.sb, "msg-u", WABA_A, PHONE_A)
        cls.key = add_key(cls.st, "sender-u", "messages:send")

    def tearDown(self):
        self.sb.clear_injections()

    def body(self, text):
        return {"to": TO, "type": "text", "text": {"body": text}}

    def posts(self, text):
        return [q for q in self.sb.requests("messages") if q["method"] == "POST"
                and text in json.dumps(q["body"])]

    def refused(self, r):
        self.assertEqual(r.status, 503, r.text[:400])
        self.assertEqual(json.loads(r.text)["error"]["code"], "unavailable")
        self.assertRegex(r.header("Retry-After") or "", r"^[1-9][0-9]*$")

    def test_bulkhead_full_is_503_and_the_key_is_released(self):
        self.sb.inject("messages", "timeout", count=1, delay=3)
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=send(
            self.port, "msg-u", self.key, self.body("holds the slot"))))
        t.start()
        wait_for(lambda: self.posts("holds the slot"), 10, "the slow send")
        r = send(self.port, "msg-u", self.key, self.body("bulkhead retry"),
                 idem="bulkhead-1")
        self.refused(r)
        self.assertEqual(self.posts("bulkhead retry"), [])
        t.join(20)
        self.assertEqual(slow["r"].status, 200, slow["r"].text[:300])
        r = send(self.port, "msg-u", self.key, self.body("bulkhead retry"),
                 idem="bulkhead-1")
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIsNone(r.header("Idempotent-Replayed"))
        self.assertEqual(len(self.posts("bulkhead retry")), 1)
        r = send(self.port, "msg-u", self.key, self.body("bulkhead retry"),
                 idem="bulkhead-1")
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.posts("bulkhead retry")), 1)

    def test_breaker_open_is_503_and_the_key_is_released(self):
        self.sb.inject("messages", "500", count=2)
        for i in range(2):
            r = send(self.port, "msg-u", self.key, self.body("fails %d" % i))
            self.assertEqual(r.status, 502, r.text[:300])
        r = send(self.port, "msg-u", self.key, self.body("breaker retry"),
                 idem="breaker-1")
        self.refused(r)
        self.assertEqual(self.posts("breaker retry"), [])
        # Retried with the same key until the breaker lets one through
        # (after breaker_seconds): sent once, then replayed.
        got = {}

        def retried():
            got["r"] = send(self.port, "msg-u", self.key,
                            self.body("breaker retry"), idem="breaker-1")
            if got["r"].status == 503:
                return False
            return True
        wait_for(retried, 10, "the breaker's probe")
        self.assertEqual(got["r"].status, 200, got["r"].text[:300])
        self.assertEqual(len(self.posts("breaker retry")), 1)
        r = send(self.port, "msg-u", self.key, self.body("breaker retry"),
                 idem="breaker-1")
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.posts("breaker retry")), 1)


class GateLease(StackCase):
    """A worker reuses the gate's read of a key, its workspace and the
    connection for [api] gate_lease_ms (here 4 s, long enough to see
    it):
    what the pool itself changes is seen by every worker at once, a hand
    edit once the lease is over, a revoke as soon as the command is
    done, which waits the lease out."""
    workers = 2
    sandbox = True
    LEASE = 4.0
    config = {"api.gate_lease_ms": int(LEASE * 1000)}

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.tokens = {}
        for i, slug in enumerate(("lease-190", "lease-hand", "lease-key",
                                  "lease-hook", "lease-swap")):
            cls.st.admin("workspace", "add", slug, slug.upper())
            cls.tokens[slug] = add_sender(cls.st, cls.sb, slug,
                                          "5100000000%02d" % i,
                                          "6100000000%02d" % i)
        cls.key = add_key(cls.st, "lease", "messages:send")

    def setUp(self):
        self.sb.clear_injections()

    def send(self, slug, key=None):
        """A send, asked again while the bulkhead turns it away (503:
        another worker is inside Meta's call, nothing was sent)."""
        for _ in range(200):
            r = send(self.port, slug, key or self.key,
                     {"to": TO, "type": "text", "text": {"body": "lease"}})
            if r.status != 503:
                return r
            time.sleep(0.02)
        return r

    def warm(self, slug, key=None):
        """Until each worker has sent for slug (read it, and keeps it)."""
        pat = re.compile(r"\[(\d+)\] \w+: POST /api/v1/w/%s/messages 200 "
                         % re.escape(slug))
        for _ in range(40):
            self.assertEqual([r.status for r in side_by_side(
                lambda: self.send(slug, key), 4, 2)], [200] * 4)
            with open(self.st.path("pool.log"), errors="replace") as f:
                if len(set(pat.findall(f.read()))) >= 2:
                    return time.monotonic()
        self.fail("one worker served every send for %s" % slug)

    def posts(self, phone):
        return [q for q in self.sb.requests("messages") if q["method"] ==
                "POST" and q["path"].endswith("/%s/messages" % phone)]

    def statuses(self, slug, n=8, key=None):
        return [r.status for r in side_by_side(
            lambda: self.send(slug, key), n, 2)]

    def test_a_190_is_seen_by_every_worker_at_once(self):
        self.warm("lease-190")
        self.sb.inject("messages", "190", count=1)
        n = len(self.posts("610000000000"))
        r = self.send("lease-190")
        self.assertEqual(r.status, 409, r.text[:300])
        # The other worker's read is well inside its lease, and was of
        # a connected workspace: it is not used.
        self.assertEqual(self.statuses("lease-190"), [409] * 8)
        self.assertEqual(len(self.posts("610000000000")) - n, 1)

    def test_an_account_update_is_seen_by_every_worker_at_once(self):
        waba, phone = "510000000003", "610000000003"
        wsid = self.st.sql("SELECT id FROM workspaces WHERE slug = "
                           "'lease-hook'", db="waba_control").strip()
        self.st.sql("INSERT INTO webhook_routes (kind, external_id, "
                    "workspace_id) VALUES ('waba', '%s', %s)" % (waba, wsid),
                    db="waba_control")
        self.warm("lease-hook")
        # The business removed the app (Meta's account_update).
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "55000", "time": int(time.time()), "changes": [{
                "field": "account_update", "value": {
                    "event": "PARTNER_REMOVED",
                    "waba_info": {"waba_id": waba,
                                  "owner_business_id": "77000"}}}]}]})
        r = post_webhook(self.port, self.st.app_secret, body.encode())
        self.assertEqual(r.status, 200, r.text[:300])
        n = len(self.posts(phone))
        self.assertEqual(self.statuses("lease-hook"), [409] * 8)
        self.assertEqual(len(self.posts(phone)), n)

    def test_a_190_for_a_replaced_token_marks_nothing(self):
        # Every worker holds the first token; another replaces it from
        # outside the pool (the admin tool: seen within the lease) and
        # Meta ends the first. A send on the old one is refused (190):
        # that says nothing of the new token, which stays connected.
        slug, waba, phone = "lease-swap", "510000000004", "610000000004"
        t = self.warm(slug)
        new = self.sb.call("POST", "/_sandbox/senders", {
            "waba_id": waba, "phone_number_id": phone})["token"]
        self.st.admin("token", "set", slug, "waba", input=new + "\n")
        self.sb.call("POST", "/_sandbox/tokens/revoke",
                     {"token": self.tokens[slug]})
        # Not self.send: its 503s are the bulkhead's, asked again.
        r = send(self.port, slug, self.key,
                 {"to": TO, "type": "text", "text": {"body": "lease"}})
        self.assertLess(time.monotonic() - t, self.LEASE * 0.9)
        self.assertEqual(r.status, 503, r.text[:300])
        body = json.loads(r.text)["error"]
        self.assertEqual(body["code"], "unavailable")
        self.assertEqual(body["meta"]["code"], 190)
        self.assertEqual(r.header("Retry-After"), "1")
        st = json.loads(self.st.admin("status", slug, "--json").stdout)
        self.assertEqual(st["status"], "connected")
        # Once the lease is over every worker sends with the new one.
        time.sleep(self.LEASE * 1.1)
        self.assertEqual(self.statuses(slug), [200] * 8)
        self.assertTrue(all(q["access_token"] == new for q in
                            self.posts(phone)[-8:]))

    def test_a_hand_edit_is_seen_once_the_lease_is_over(self):
        db = ws_db(self.st, "lease-hand")
        self.warm("lease-hand")
        self.st.sql("UPDATE connection SET status = 'needs_reconnect', "
                    "reason = 'test: by hand' WHERE id = 1", db=db)
        t = time.monotonic()
        try:
            got = self.statuses("lease-hand", 4)
            if time.monotonic() - t < self.LEASE * 0.5:
                # Nothing told the pool: what it read is still used.
                self.assertIn(200, got)
            time.sleep(self.LEASE * 1.1)
            self.assertEqual(self.statuses("lease-hand"), [409] * 8)
        finally:
            self.st.sql("UPDATE connection SET status = 'connected', "
                        "reason = NULL WHERE id = 1", db=db)

    def test_revoke_waits_out_the_lease(self):
        key = add_key(self.st, "lease-gone", "messages:send")
        self.warm("lease-key", key)
        t = time.monotonic()
        r = self.st.admin("api-key", "revoke", "lease-gone")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(time.monotonic() - t, self.LEASE)
        n = len(self.posts("610000000002"))
        self.assertEqual(self.statuses("lease-key", key=key), [401] * 8)
        self.assertEqual(len(self.posts("610000000002")), n)
