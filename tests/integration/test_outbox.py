"""The outbox (issue 13, doc/contract.md, Internal API: Outbox) through
lighttpd, the pool and MariaDB: POST /outbox queues up to 1,000 messages
in one transaction, each checked as POST /messages checks one; a repeated
client_id returns the first id and queues nothing; GET /outbox/{id} reads
one, DELETE cancels a queued one (else 409). Nothing is sent by a worker:
the sandbox sees no POST."""
import json
import signal
import time

from base import StackCase
from client import request
from gateway import add_key, add_sender, ws_db
from meta import Sandbox

WABA_A, PHONE_A, PHONE_A2 = "510000000001", "610000000001", "610000000002"
WABA_B, PHONE_B = "510000000002", "610000000003"
TO = "4915112345678"


def outbox(port, slug, key, body, raw=None):
    h = {"Content-Type": "application/json", "Authorization": "Bearer " + key}
    data = raw if raw is not None else json.dumps(body).encode()
    return request(port, "POST", "/api/v1/w/%s/outbox" % slug, body=data,
                   headers=h, timeout=30)


def one(port, slug, key, method, oid):
    return request(port, method, "/api/v1/w/%s/outbox/%s" % (slug, oid),
                   headers={"Authorization": "Bearer " + key}, timeout=15)


def text(cid, to=TO, **over):
    m = {"to": to, "type": "text", "text": {"body": "hi " + cid},
         "client_id": cid}
    m.update(over)
    return m


class OutboxApi(StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        for slug in ("obx-a", "obx-b"):
            cls.st.admin("workspace", "add", slug, slug.upper())
        add_sender(cls.st, cls.sb, "obx-a", WABA_A, PHONE_A)
        add_sender(cls.st, cls.sb, "obx-a", WABA_A, PHONE_A2, default=False)
        add_sender(cls.st, cls.sb, "obx-b", WABA_B, PHONE_B)
        cls.key = add_key(cls.st, "obx", "messages:send")
        cls.key_read = add_key(cls.st, "obx-read", "connection:read")
        cls.key_b = add_key(cls.st, "obx-b", "messages:send", ["obx-b"])

    def error(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:400])
        self.assertEqual(json.loads(r.text)["error"]["code"], code, r.text)
        return json.loads(r.text)["error"]["message"]

    def rows(self, slug, where="1"):
        return self.st.sql("SELECT client_id, state, to_addr, "
                           "IFNULL(phone_number_id, '-') FROM outbox WHERE "
                           + where + " ORDER BY id", db=ws_db(self.st, slug))

    def test_batch_is_queued_in_order_and_nothing_sent(self):
        n = len(self.sb.requests("messages"))
        msgs = [text("batch-%d" % i) for i in range(1000)]
        msgs[7]["from"] = PHONE_A2
        r = outbox(self.port, "obx-a", self.key, {"messages": msgs})
        self.assertEqual(r.status, 202, r.text[:300])
        acc = json.loads(r.text)["accepted"]
        self.assertEqual([a["client_id"] for a in acc],
                         ["batch-%d" % i for i in range(1000)])
        ids = [a["id"] for a in acc]
        self.assertEqual(len(set(ids)), 1000)
        g = one(self.port, "obx-a", self.key, "GET", ids[7])
        self.assertEqual(g.status, 200, g.text)
        got = json.loads(g.text)
        self.assertEqual(sorted(got), ["attempts", "client_id", "error", "id",
                                       "message_id", "state", "updated_at"])
        self.assertEqual((got["id"], got["client_id"], got["state"],
                          got["attempts"], got["message_id"]),
                         (ids[7], "batch-7", "queued", 0, None))
        self.assertIn("batch-7\tqueued\t%s\t%s" % (TO, PHONE_A2),
                      self.rows("obx-a", "client_id = 'batch-7'"))
        self.assertIn("batch-8\tqueued\t%s\t-" % TO,
                      self.rows("obx-a", "client_id = 'batch-8'"))
        # The stored body is the message without client_id.
        body = self.st.sql("SELECT body FROM outbox WHERE client_id = "
                           "'batch-8'", db=ws_db(self.st, "obx-a")).strip()
        self.assertEqual(json.loads(body), {"to": TO, "type": "text",
                                            "text": {"body": "hi batch-8"}})
        self.assertEqual(len(self.sb.requests("messages")), n)

    def test_repeat_client_id_returns_first_id(self):
        r = outbox(self.port, "obx-a", self.key, {"messages": [text("rep-1")]})
        self.assertEqual(r.status, 202, r.text)
        first = json.loads(r.text)["accepted"][0]["id"]
        r = outbox(self.port, "obx-a", self.key,
                   {"messages": [text("rep-1", to="4915100000000"),
                                 text("rep-2"), text("rep-2")]})
        self.assertEqual(r.status, 202, r.text)
        acc = json.loads(r.text)["accepted"]
        self.assertEqual(acc[0], {"id": first, "client_id": "rep-1"})
        self.assertEqual(acc[1]["id"], acc[2]["id"])
        self.assertEqual(self.rows("obx-a", "client_id LIKE 'rep-%'"),
                         "rep-1\tqueued\t%s\t-\nrep-2\tqueued\t%s\t-\n"
                         % (TO, TO))
        # Another workspace has its own client_ids.
        r = outbox(self.port, "obx-b", self.key, {"messages": [text("rep-1")]})
        self.assertEqual(r.status, 202, r.text)
        self.assertEqual(self.rows("obx-b", "client_id = 'rep-1'").count("\n"), 1)

    def test_old_client_id_is_new_again(self):
        r = outbox(self.port, "obx-a", self.key, {"messages": [text("old-1")]})
        first = json.loads(r.text)["accepted"][0]["id"]
        self.st.sql("UPDATE outbox SET created_at = UTC_TIMESTAMP() - "
                    "INTERVAL 8 DAY WHERE id = %d" % first,
                    db=ws_db(self.st, "obx-a"))
        r = outbox(self.port, "obx-a", self.key, {"messages": [text("old-1")]})
        self.assertEqual(r.status, 202, r.text)
        self.assertNotEqual(json.loads(r.text)["accepted"][0]["id"], first)

    def test_one_bad_message_queues_none(self):
        cases = [
            ([text("bad-1"), {"to": TO, "type": "text", "client_id": "bad-2"}],
             "messages[1]: a message of type text needs its text object"),
            ([text("bad-3"), text("")], "messages[1]: client_id"),
            ([text("bad-4", client_id="x" * 65)], "messages[0]: client_id"),
            ([text("bad-5", client_id="a b")], "messages[0]: client_id"),
            ([{"to": TO, "type": "text", "text": {"body": "x"}}],
             "messages[0]: client_id"),
            ([text("bad-6", to="12")], "messages[0]: to must be"),
            ([text("bad-7", extra=1)], "messages[0]: extra is not a member"),
            ([text("bad-8", **{"from": PHONE_B})],
             "messages[0]: from is not one of"),
            ([text("bad-9", **{"from": "12ab"})], "messages[0]: from must be"),
            (["nope"], "messages[0] must be a message object"),
        ]
        for msgs, words in cases:
            with self.subTest(words=words):
                r = outbox(self.port, "obx-a", self.key, {"messages": msgs})
                self.assertIn(words, self.error(r, 400, "invalid_request"))
        self.assertEqual(self.rows("obx-a", "client_id LIKE 'bad-%'"), "")
        for body in ({"messages": []}, {"messages": {}}, {},
                     {"messages": [text("bad-x")], "more": 1},
                     {"messages": [text("big-%d" % i) for i in range(1001)]}):
            with self.subTest(body=str(body)[:40]):
                self.error(outbox(self.port, "obx-a", self.key, body), 400,
                           "invalid_request")
        self.error(outbox(self.port, "obx-a", self.key, None, raw=b"[1,"), 400,
                   "invalid_request")
        self.assertEqual(self.rows("obx-a", "client_id LIKE 'big-%' OR client_id = 'bad-x'"), "")

    def test_keys_and_scopes(self):
        body = {"messages": [text("scope-1")]}
        self.error(outbox(self.port, "obx-a", self.key_read, body), 403,
                   "forbidden")
        self.error(outbox(self.port, "obx-a", self.key_b, body), 404,
                   "not_found")
        self.error(outbox(self.port, "obx-a", "nokey", body), 401,
                   "unauthorized")
        self.error(one(self.port, "obx-a", self.key_read, "GET", 1), 403,
                   "forbidden")
        self.assertEqual(self.rows("obx-a", "client_id = 'scope-1'"), "")

    def test_get_and_cancel(self):
        r = outbox(self.port, "obx-a", self.key,
                   {"messages": [text("del-1"), text("del-2")]})
        a, b = [x["id"] for x in json.loads(r.text)["accepted"]]
        self.error(one(self.port, "obx-b", self.key, "GET", a), 404,
                   "not_found")
        self.error(one(self.port, "obx-b", self.key, "DELETE", a), 404,
                   "not_found")
        d = one(self.port, "obx-a", self.key, "DELETE", a)
        self.assertEqual(d.status, 204, d.text)
        self.error(one(self.port, "obx-a", self.key, "GET", a), 404,
                   "not_found")
        self.error(one(self.port, "obx-a", self.key, "DELETE", a), 404,
                   "not_found")
        self.st.sql("UPDATE outbox SET state = 'sent', message_id = "
                    "'wamid.X' WHERE id = %d" % b, db=ws_db(self.st, "obx-a"))
        self.assertIn("sent", self.error(
            one(self.port, "obx-a", self.key, "DELETE", b), 409, "not_queued"))
        got = json.loads(one(self.port, "obx-a", self.key, "GET", b).text)
        self.assertEqual((got["state"], got["message_id"]), ("sent", "wamid.X"))
        self.error(one(self.port, "obx-a", self.key, "GET", "0"), 400,
                   "invalid_request")
        self.error(one(self.port, "obx-a", self.key, "GET", "x1"), 400,
                   "invalid_request")


def wait(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def counts(st, slug):
    out = st.sql("SELECT state, COUNT(*) FROM outbox GROUP BY state",
                 db=ws_db(st, slug))
    return {k: int(v) for k, v in (l.split("\t") for l in out.split("\n") if l)}


class OutboxSender(StackCase):
    """The sender: two `waba-connect --sender` processes drain the outbox
    of many workspaces at once: each message sent exactly once, each
    number paced to per_number_mps in every one-second window, each
    recipient to pair_interval_ms; kill -9, 190 and reconnect."""
    workers = 2
    sandbox = True
    config = {"sender.per_number_mps": 80, "sender.pair_interval_ms": 1000,
              "sender.claim_timeout_s": 8, "sender.max_attempts": 3,
              "sender.max_in_flight": 64, "meta.timeout_ms": 5000}
    NWS = 20

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.slugs = ["snd-%02d" % i for i in range(cls.NWS)]
        cls.phones = {}
        for i, slug in enumerate(cls.slugs):
            cls.st.admin("workspace", "add", slug, slug.upper())
            phone = "62%010d" % i
            add_sender(cls.st, cls.sb, slug, "52%010d" % i, phone)
            cls.phones[slug] = phone
        cls.key = add_key(cls.st, "snd", "messages:send")

    def tearDown(self):
        for name in ("sender", "sender2"):
            self.st.stop_sender(name)
        self.sb.clear_injections()

    def enqueue(self, slug, n, tag, recipients=None):
        recipients = recipients or n
        ids = []
        for start in range(0, n, 1000):
            msgs = [text("%s-%d" % (tag, i),
                         to="4917%08d" % (i % recipients))
                    for i in range(start, min(n, start + 1000))]
            r = outbox(self.port, slug, self.key, {"messages": msgs})
            self.assertEqual(r.status, 202, r.text[:300])
            ids += [a["id"] for a in json.loads(r.text)["accepted"]]
        return ids

    def sends(self, tag):
        """The sandbox's sends of this test: {body text: [request, …]}."""
        got = {}
        for q in self.sb.call("GET", "/_sandbox/sends")["sends"]:
            b = q.get("text") or ""
            if b.startswith("hi " + tag + "-"):
                got.setdefault((q["phone_number_id"], b), []).append(q)
        return got

    def drained(self, slugs, n):
        total = sum(counts(self.st, s).get("sent", 0) for s in slugs)
        return total >= n

    def test_two_senders_drain_10000_once_within_limits(self):
        per = 10000 // self.NWS
        t0 = time.time()
        for slug in self.slugs:
            self.enqueue(slug, per, "big", recipients=per // 2)
        enqueue_s = time.time() - t0
        self.st.start_sender("sender")
        self.st.start_sender("sender2")
        wait(lambda: self.drained(self.slugs, 10000), 90, "the drain")
        drain_s = time.time() - t0 - enqueue_s
        print("enqueue %.1fs, drain %.1fs" % (enqueue_s, drain_s))
        for slug in self.slugs:
            self.assertEqual(counts(self.st, slug), {"sent": per}, slug)
        sends = self.sends("big")
        self.assertEqual(len(sends), 10000)
        twice = [k for k, v in sends.items() if len(v) != 1]
        self.assertEqual(twice, [])
        by_phone, by_pair = {}, {}
        for (phone, _), (q,) in sends.items():
            by_phone.setdefault(phone, []).append(q["time"])
            by_pair.setdefault((phone, q["to"]), []).append(q["time"])
        for phone, ts in by_phone.items():
            ts.sort()
            j = 0
            for i in range(len(ts)):
                while ts[i] - ts[j] >= 1.0:
                    j += 1
                self.assertLessEqual(i - j + 1, 80, "%s over 80/s" % phone)
        for pair, ts in by_pair.items():
            ts.sort()
            for a, b in zip(ts, ts[1:]):
                # The sandbox stamps arrival: a few ms of jitter.
                self.assertGreaterEqual(b - a, 0.98, pair)
        # Every sent one has Meta's id, and its event is in the feed.
        db = ws_db(self.st, self.slugs[0])
        self.assertEqual(self.st.sql(
            "SELECT COUNT(*) FROM outbox WHERE message_id LIKE 'wamid.%'",
            db=db).strip(), str(per))
        self.assertEqual(self.st.sql(
            "SELECT COUNT(*) FROM webhook_events WHERE kind = "
            "'message_sent'", db=db).strip(), str(per))
