"""Issue 11, item 6: the events feed GET /api/v1/w/{slug}/events
(doc/contract.md, Internal API). Meta's deliveries, signed as Meta signs
them, come back from the feed with Meta's object unchanged, the change's
metadata and the sender's contact; cursor, paging, long-poll and its
limit ([api] max_waiting), and the connection's own events."""
import json
import threading
import time
import urllib.parse

from base import StackCase
from client import request
from meta import (PHONE, WABA, Sandbox, csrf, post_form, post_webhook,
                  settings_path, sign_in, start_connect)

PW = "events test password"
SLUG = "evt"
S = settings_path(SLUG)
FROM = "4915112345678"
CONTACT = {"profile": {"name": "Kerstin Cliente"}, "wa_id": FROM}
METADATA = {"display_phone_number": "15550100", "phone_number_id": PHONE}
TS = "1764570000"


def m(kind, n, **body):
    """An inbound message of type kind as Meta sends it."""
    o = {"from": FROM, "id": "wamid.HBgN%s%d" % (kind, n),
         "timestamp": TS, "type": kind}
    o.update(body)
    return o


# One of each type, in Meta's shapes (Cloud API webhooks reference,
# messages: text, image, audio, video, document, sticker, location,
# contacts, interactive, button, reaction, order, system, unsupported;
# referral from Click to WhatsApp ads; context on replies).
MESSAGES = [
    m("text", 1, text={"body": "Hallo, ist das Paket schon unterwegs?"}),
    m("image", 1, image={"caption": "Das ist der Schaden",
                         "mime_type": "image/jpeg",
                         "sha256": "uVX9MUKhK0Bq6gfLPn1Ft8mBkbYzaPmZfwbGHwWxT1I=",
                         "id": "1003383421387256"}),
    m("audio", 1, audio={"mime_type": "audio/ogg; codecs=opus",
                         "sha256": "OhKx5wM1n1jUc4sFTbYQp0KcV4y2LhAN4h4Ll0v5bxM=",
                         "id": "1234567890123456", "voice": True}),
    m("video", 1, video={"caption": "So sieht es aus",
                         "mime_type": "video/mp4",
                         "sha256": "lTMbKM4R/jQpuDZtAo2aLcUKH8g1tHb7rmOwNJs9Pqk=",
                         "id": "2345678901234567"}),
    m("document", 1, document={"caption": "Rechnung",
                               "filename": "rechnung-4711.pdf",
                               "mime_type": "application/pdf",
                               "sha256": "d8C1iPjxBTtXPiHsRMhn0fFxWcqsG1/5vLuc+p3VnJY=",
                               "id": "3456789012345678"}),
    m("sticker", 1, sticker={"mime_type": "image/webp",
                             "sha256": "9UNpGOTPGZ5a+4w5Y6CKzNuKnnfTSeLIqsBnw9UwE3U=",
                             "id": "4567890123456789", "animated": False}),
    m("location", 1, location={"address": "Unter den Linden 1, Berlin",
                               "latitude": 52.517036, "longitude": 13.38886,
                               "name": "Humboldt Forum",
                               "url": "https://humboldtforum.org"}),
    m("contacts", 1, contacts=[{
        "addresses": [{"city": "Berlin", "country": "Germany",
                       "country_code": "DE", "street": "Hauptstr. 5",
                       "type": "HOME", "zip": "10115"}],
        "birthday": "1990-04-01",
        "emails": [{"email": "jan@example.com", "type": "WORK"}],
        "name": {"first_name": "Jan", "last_name": "Muster",
                 "formatted_name": "Jan Muster"},
        "org": {"company": "Muster GmbH", "title": "Einkauf"},
        "phones": [{"phone": "+49 30 1234567", "wa_id": "49301234567",
                    "type": "WORK"}],
        "urls": [{"url": "https://muster.example", "type": "WORK"}]}]),
    m("interactive", 1, context={"from": "15550100",
                                 "id": "wamid.HBgNcontextbtn"},
      interactive={"type": "button_reply",
                   "button_reply": {"id": "yes-tomorrow",
                                    "title": "Ja, morgen"}}),
    m("interactive", 2, context={"from": "15550100",
                                 "id": "wamid.HBgNcontextlist"},
      interactive={"type": "list_reply",
                   "list_reply": {"id": "slot-0900", "title": "9:00",
                                  "description": "Vormittag"}}),
    m("button", 1, context={"from": "15550100", "id": "wamid.HBgNtmpl"},
      button={"payload": "STOP_PROMOTIONS", "text": "Keine Werbung"}),
    m("reaction", 1, reaction={"message_id": "wamid.HBgNsentbyus",
                               "emoji": "\U0001f44d"}),
    m("order", 1, order={"catalog_id": "1541282396488567",
                         "text": "Bitte schnell liefern",
                         "product_items": [
                             {"product_retailer_id": "sku-1", "quantity": 2,
                              "item_price": 12.5, "currency": "EUR"},
                             {"product_retailer_id": "sku-2", "quantity": 1,
                              "item_price": 3, "currency": "EUR"}]}),
    m("system", 1, system={"body": "Kerstin changed from 4915112345678 to "
                           "4915199999999", "wa_id": "4915199999999",
                           "type": "user_changed_number"}),
    m("unsupported", 1, errors=[{
        "code": 131051, "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not "
                                  "supported."}}]),
    m("text", 2, text={"body": "Ich habe Ihre Anzeige gesehen"},
      referral={"source_url": "https://fb.me/3cr4Wqqkn",
                "source_id": "120226305854810726", "source_type": "ad",
                "body": "Sommerangebot", "headline": "Jetzt bestellen",
                "media_type": "image",
                "image_url": "https://scontent.xx.fbcdn.net/v/t45.1.jpg",
                "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-ZABDLfHK4sBVi5-lb8O1ZvVxYzKa-u9hbFpAAA",
                "welcome_message": {"text": "Hallo! Wie koennen wir helfen?"}}),
    m("text", 3, context={"from": "15550100", "id": "wamid.HBgNourmessage"},
      text={"body": "Ja, das passt so"}),
]

STATUSES = [
    {"id": "wamid.HBgNout1", "status": "delivered", "timestamp": TS,
     "recipient_id": FROM,
     "conversation": {"id": "6ceb9d929c1ab4a4b0ee8ef7d6ad2ecb",
                      "origin": {"type": "marketing"}},
     "pricing": {"billable": True, "pricing_model": "PMP",
                 "category": "marketing", "type": "regular"}},
    {"id": "wamid.HBgNout2", "status": "failed", "timestamp": TS,
     "recipient_id": FROM,
     "errors": [{"code": 131047, "title": "Re-engagement message",
                 "message": "Re-engagement message",
                 "error_data": {"details": "Message failed to send because "
                                           "more than 24 hours have passed "
                                           "since the customer last replied "
                                           "to this number."},
                 "href": "https://developers.facebook.com/docs/whatsapp/"
                         "cloud-api/support/error-codes/"}]},
]

ERRORS = [{"code": 131000, "title": "Something went wrong",
           "message": "Something went wrong",
           "error_data": {"details": "Unable to retrieve media"}}]


def value(**lists):
    v = {"messaging_product": "whatsapp", "metadata": METADATA}
    v.update(lists)
    return v


def delivery(*values, waba=WABA):
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": waba, "changes": [{"field": "messages", "value": v}
                                for v in values]}]}).encode()


class Events(StackCase):
    workers = 6
    sandbox = True
    config = {"meta.max_concurrent_calls": 2, "meta.timeout_ms": 20000,
              "meta.max_retries": 0, "api.max_waiting": 1}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Events Ltd")
        cls.st.admin("workspace", "add", "other", "Other Ltd")
        cls.st.admin("user", "add", SLUG, "e@evt.example", input=PW + "\n")

    @classmethod
    def key(cls, name, scopes, *workspaces):
        args = ["api-key", "add", name, "--scopes", scopes]
        for w in workspaces:
            args += ["--workspace", w]
        return cls.st.admin(*args).stdout.strip()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.b = sign_in(cls.st.port, "e@evt.example", PW)
        sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        r = cls.b.get(sb.decide(start_connect(cls.b, SLUG)))
        assert r.status == 303, r.text[:500]
        page = cls.b.get(S + "/phone-numbers")
        r = cls.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                              "phone_number_id": PHONE,
                                              "pin": "123456"})
        assert r.status == 303, r.text[:500]
        cls.k = cls.key("feed", "events:read")
        cls.k_conn = cls.key("conn", "connection:read")
        cls.k_other = cls.key("feed-other", "events:read", "other")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)

    def tearDown(self):
        self.sb.clear_injections()

    # --- helpers ---------------------------------------------------------

    def post(self, body):
        r = post_webhook(self.port, self.st.app_secret, body)
        self.assertEqual(r.status, 200, r.text[:300])
        return r

    def feed(self, key=None, slug=SLUG, timeout=40, **q):
        path = "/api/v1/w/%s/events" % slug
        if q:
            path += "?" + urllib.parse.urlencode(q)
        return request(self.port, "GET", path, timeout=timeout,
                       headers={"Authorization": "Bearer " + (key or self.k)})

    def events(self, **q):
        r = self.feed(**q)
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertEqual(r.header("Content-Type"), "application/json")
        return json.loads(r.text)

    def head(self):
        """The id of the last stored event: a cursor past everything."""
        after = 0
        while True:
            out = self.events(after=after, limit=1000)
            if not out["events"]:
                return after
            after = out["next"]

    def all_after(self, after):
        got = []
        while True:
            out = self.events(after=after, limit=1000)
            if not out["events"]:
                return got
            got += out["events"]
            after = out["next"]

    def error_of(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:300])
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.text)["error"]["code"], code)

    # --- Meta's objects, whole -------------------------------------------

    def test_every_message_type_comes_back_whole(self):
        start = self.head()
        self.post(delivery(value(contacts=[CONTACT], messages=MESSAGES)))
        got = self.all_after(start)
        self.assertEqual(len(got), len(MESSAGES))
        for sent, ev in zip(MESSAGES, got):
            self.assertEqual(ev["type"], "message")
            self.assertEqual(ev["object"], sent, sent["id"])
            self.assertEqual(ev["metadata"], METADATA)
            self.assertEqual(ev["contact"], CONTACT)
            self.assertEqual(ev["waba_id"], WABA)
            self.assertEqual(ev["phone_number_id"], PHONE)
            self.assertRegex(ev["received_at"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # Ids grow in delivery order.
        ids = [e["id"] for e in got]
        self.assertEqual(ids, sorted(ids))
        self.assertGreater(ids[0], start)

    def test_contact_is_the_senders_entry(self):
        start = self.head()
        other = {"profile": {"name": "Someone Else"}, "wa_id": "447700900123"}
        msgs = [m("text", 71, text={"body": "one"}),
                dict(m("text", 72, text={"body": "two"}),
                     **{"from": "447700900123"})]
        self.post(delivery(value(contacts=[CONTACT, other], messages=msgs)))
        got = self.all_after(start)
        self.assertEqual([e["contact"] for e in got], [CONTACT, other])

    def test_statuses_and_errors_come_back_whole(self):
        start = self.head()
        self.post(delivery(value(statuses=STATUSES), value(errors=ERRORS)))
        got = self.all_after(start)
        self.assertEqual([e["type"] for e in got],
                         ["status", "status", "error"])
        self.assertEqual([e["object"] for e in got], STATUSES + ERRORS)
        for e in got:
            self.assertEqual(e["metadata"], METADATA)
            self.assertIsNone(e["contact"])

    def test_account_update_keeps_its_value(self):
        start = self.head()
        v = {"event": "ACCOUNT_VIOLATION",
             "violation_info": {"violation_type": "SCAM"}}
        self.post(json.dumps({"object": "whatsapp_business_account",
                              "entry": [{"id": WABA, "time": int(time.time()),
                                         "changes": [{"field": "account_update",
                                                      "value": v}]}]}).encode())
        got = self.all_after(start)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["type"], "account_update")
        self.assertEqual(got[0]["object"], v)
        self.assertIsNone(got[0]["metadata"])
        self.assertEqual(got[0]["waba_id"], WABA)

    def test_redelivery_is_one_event(self):
        start = self.head()
        body = delivery(value(contacts=[CONTACT],
                              messages=[m("text", 81, text={"body": "x"})]))
        self.post(body)
        self.post(body)
        self.assertEqual(len(self.all_after(start)), 1)

    # --- order, cursor, paging -------------------------------------------

    def test_order_across_deliveries_and_paging(self):
        start = self.head()
        sent = []
        for i in range(7):
            msg = m("text", 100 + i, text={"body": "n%d" % i})
            sent.append(msg)
            self.post(delivery(value(contacts=[CONTACT], messages=[msg])))
        pages, after = [], start
        while True:
            out = self.events(after=after, limit=3)
            if not out["events"]:
                self.assertEqual(out["next"], after)
                break
            self.assertLessEqual(len(out["events"]), 3)
            self.assertEqual(out["next"], out["events"][-1]["id"])
            pages.append(out["events"])
            after = out["next"]
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        self.assertEqual([e["object"] for p in pages for e in p], sent)
        # Default limit and after=0 from the start.
        out = self.events()
        self.assertLessEqual(len(out["events"]), 100)
        self.assertEqual(out["events"][0]["id"],
                         min(e["id"] for e in out["events"]))

    def test_bad_query_fields_are_400(self):
        for q in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"},
                  {"limit": ""}, {"after": -1}, {"after": "1e3"},
                  {"after": "9" * 20}, {"wait": 31}, {"wait": "-1"},
                  {"wait": "1.5"}):
            self.error_of(self.feed(**q), 400, "invalid_request")
        r = self.feed(limit=0)
        self.assertIn("limit", json.loads(r.text)["error"]["message"])
        self.assertEqual(self.feed(limit=1000, wait=0, after=0).status, 200)

    def test_scope_and_workspace(self):
        self.error_of(self.feed(key=self.k_conn), 403, "forbidden")
        # A key for "other" does not see evt: the same 404 as no such one.
        self.error_of(self.feed(key=self.k_other), 404, "not_found")
        self.error_of(self.feed(slug="nosuch"), 404, "not_found")
        r = request(self.port, "GET", "/api/v1/w/%s/events" % SLUG)
        self.error_of(r, 401, "unauthorized")
        # Its own workspace has no events of evt's.
        out = json.loads(self.feed(key=self.k_other, slug="other").text)
        self.assertEqual(out, {"events": [], "next": 0})

    def test_pre_v6_row_is_rebuilt(self):
        start = self.head()
        self.st.sql(
            "INSERT INTO webhook_events (dedup_key, kind, phone_number_id, "
            "message_id, status, wa_from, body, event_at, received_at) VALUES "
            "('m:wamid.old1', 'message', '%s', 'wamid.old1', NULL, '%s', "
            "'alt', '2025-12-01 06:20:00', UTC_TIMESTAMP()), "
            "('s:wamid.old2:read', 'status', '%s', 'wamid.old2', 'read', "
            "'%s', NULL, '2025-12-01 06:20:00', UTC_TIMESTAMP())"
            % (PHONE, FROM, PHONE, FROM), db="waba_ws_1")
        got = self.all_after(start)
        self.assertEqual([e["object"] for e in got], [
            {"id": "wamid.old1", "from": FROM, "timestamp": "1764570000",
             "type": "text", "text": {"body": "alt"}},
            {"id": "wamid.old2", "status": "read", "recipient_id": FROM,
             "timestamp": "1764570000"}])
        self.assertEqual([e["type"] for e in got], ["message", "status"])
        self.assertIsNone(got[0]["metadata"])
        self.assertIsNone(got[0]["waba_id"])

    # --- long-poll -------------------------------------------------------

    def test_long_poll_wakes_when_a_delivery_arrives(self):
        start = self.head()
        out = {}

        def poll():
            t0 = time.monotonic()
            r = self.feed(after=start, wait=20)
            out["took"] = time.monotonic() - t0
            out["at"] = time.monotonic()
            out["r"] = r

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        time.sleep(1.5)
        self.assertTrue(t.is_alive(), "answered before anything arrived")
        msg = m("text", 200, text={"body": "wake up"})
        self.post(delivery(value(contacts=[CONTACT], messages=[msg])))
        sent_at = time.monotonic()
        t.join(25)
        self.assertFalse(t.is_alive())
        self.assertEqual(out["r"].status, 200, out["r"].text[:300])
        body = json.loads(out["r"].text)
        self.assertEqual([e["object"] for e in body["events"]], [msg])
        self.assertEqual(body["next"], body["events"][0]["id"])
        self.assertLess(out["at"] - sent_at, 1.0)
        self.assertLess(out["took"], 5)

    def test_wait_expires_empty_with_next_the_cursor(self):
        start = self.head()
        t0 = time.monotonic()
        out = self.events(after=start, wait=2)
        took = time.monotonic() - t0
        self.assertEqual(out, {"events": [], "next": start})
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 4)

    def test_events_already_there_answer_at_once(self):
        start = self.head()
        self.post(delivery(value(contacts=[CONTACT],
                                 messages=[m("text", 300,
                                             text={"body": "here"})])))
        t0 = time.monotonic()
        out = self.events(after=start, wait=30)
        self.assertLess(time.monotonic() - t0, 1)
        self.assertEqual(len(out["events"]), 1)

    def test_max_waiting_exceeded_answers_at_once(self):
        start = self.head()
        first = {}

        def poll():
            first["r"] = self.feed(after=start, wait=4)

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        time.sleep(0.7)  # the first one waits (max_waiting = 1)
        t0 = time.monotonic()
        out = self.events(after=start, wait=10)
        took = time.monotonic() - t0
        self.assertEqual(out, {"events": [], "next": start})
        self.assertLess(took, 1)
        t.join(10)
        self.assertEqual(first["r"].status, 200)
        # Its place is free again: the next long-poll waits.
        t0 = time.monotonic()
        self.events(after=start, wait=1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_feed_and_connection_fast_while_bulkhead_full(self):
        token = csrf(self.b.get(S))
        self.sb.inject("debug_token", "timeout", count=100, delay=30)
        base = len(self.sb.requests("debug_token"))
        hdr = {"Cookie": self.b._cookie_header(),
               "Content-Type": "application/x-www-form-urlencoded"}
        ts = [threading.Thread(target=lambda: request(
            self.port, "POST", S + "/verify", body={"csrf_token": token},
            headers=hdr, timeout=45), daemon=True) for _ in range(2)]
        try:
            for t in ts:
                t.start()
            deadline = time.monotonic() + 10
            while (len(self.sb.requests("debug_token")) - base < 2
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            self.assertEqual(len(self.sb.requests("debug_token")) - base, 2)
            for _ in range(3):
                t0 = time.monotonic()
                self.assertEqual(self.feed(limit=5).status, 200)
                self.assertLess(time.monotonic() - t0, 0.3)
                t0 = time.monotonic()
                r = request(self.port, "GET",
                            "/api/v1/w/%s/connection" % SLUG,
                            headers={"Authorization": "Bearer " + self.k_conn})
                self.assertEqual(r.status, 200, r.text[:300])
                self.assertLess(time.monotonic() - t0, 0.3)
        finally:
            self.sb.clear_injections()
            for t in ts:
                t.join(45)

    # --- connection events ------------------------------------------------

    def marks_audited(self):
        return int(self.st.sql(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'needs_reconnect' "
            "AND actor = 'meta'", db="waba_ws_1").strip())

    def test_zz_190_is_one_connection_event_then_restored(self):
        start = self.head()
        audited = self.marks_audited()
        self.sb.call("POST", "/_sandbox/tokens/expire", {"all": True})
        r = post_form(self.b, S + "/test-message", {"to": FROM})
        self.assertEqual(r.status, 502, r.text[:300])
        # Marked again by each Verify (debug_token says it expired):
        # the same expired token, still one event.
        for _ in range(2):
            r = post_form(self.b, S + "/verify", {})
            self.assertEqual(r.status, 303)
            self.assertEqual(r.header("Location"), S + "?m=needs_reconnect")
        post_form(self.b, S + "/test-message", {"to": FROM})
        got = [e for e in self.all_after(start) if e["type"] == "connection"]
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["object"],
                         {"state": "needs_reconnect",
                          "reason": "the access token expired"})
        self.assertEqual(got[0]["waba_id"], WABA)
        self.assertEqual(got[0]["phone_number_id"], PHONE)
        # And audited once: a mark that changes nothing is no new entry.
        self.assertEqual(self.marks_audited() - audited, 1)
        # A reconnect that brings it back: "restored", once.
        mark = got[0]["id"]
        r = self.b.get(self.sb.decide(start_connect(self.b, SLUG)))
        self.assertEqual(r.status, 303, r.text[:300])
        post_form(self.b, S + "/verify", {})
        got = [e for e in self.all_after(mark) if e["type"] == "connection"]
        self.assertEqual([e["object"] for e in got], [{"state": "restored"}])
