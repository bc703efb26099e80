"""Issue 13, item 5: the settings page's Outbox card, through lighttpd,
the pool, MariaDB, the Meta sandbox and `waba-connect --sender`. The card
counts what is queued, sending and paused, what was sent, failed or
ended unknown in the last hour, says how long the oldest queued message
has waited and why a queue waits paused; it is read in the page's one
statement (store_conn_page), by two index range scans that stop after
OUTBOX_PAGE_SCAN rows, so neither the queue nor its history slows the
page."""
import html
import json
import re

from base import BrowserCase
from client import request
from gateway import add_key, add_sender, ws_db
from meta import Sandbox, settings_path, sign_in
from test_outbox import wait

PW = "outbox page test password"
EMAIL = "otto@outbox.example"
SCAN = 1001  # src/store/outbox.h, OUTBOX_PAGE_SCAN
SLUGS = {"empty": None, "queued": 1, "drain": 2, "pause": 3, "cap": 4,
         "trips": 5, "shot": 6}
TRIPS = ("Questions", "Com_stmt_prepare", "Com_stmt_close",
         "Com_stmt_reset", "Com_admin_commands")
SHOWN = TRIPS + ("Com_stmt_execute", "Handler_read_next",
                 "Handler_read_prev", "Handler_read_rnd_next",
                 "Created_tmp_disk_tables")




def text_of(page, ident):
    """The text of the element with id=ident, tags dropped, entities
    decoded, blanks squeezed; None when there is none."""
    m = re.search(r'<(\w+)[^>]* id="%s"[^>]*>(.*?)</\1>' % re.escape(ident),
                  page.text, re.S)
    if not m:
        return None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))).split())


class OutboxPage(BrowserCase):
    workers = 1  # one statement cache: the round trip count's warm-up fills it
    config = {"sender.per_number_mps": 80, "sender.pair_interval_ms": 1000,
              "sender.max_attempts": 2, "meta.timeout_ms": 5000}

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.slug = {k: "obp-" + k for k in SLUGS}
        for k, n in SLUGS.items():
            slug = cls.slug[k]
            cls.st.admin("workspace", "add", slug, "Outbox " + k.title())
            cls.st.admin("user", "add", slug, EMAIL,
                         input=PW + "\n" if k == "empty" else None)
            if n is not None:
                add_sender(cls.st, cls.sb, slug, "53%010d" % n,
                           "63%010d" % n)
        cls.key = add_key(cls.st, "obp", "messages:send")

    def setUp(self):
        self.b = sign_in(self.port, EMAIL, PW)

    def tearDown(self):
        self.st.stop_sender("sender")
        self.sb.clear_injections()

    # -- helpers -----------------------------------------------------------
    def page(self, k):
        r = self.b.get(settings_path(self.slug[k]))
        self.assertEqual(r.status, 200, r.text[:500])
        return r

    def enqueue(self, k, n, tag):
        slug = self.slug[k]
        for start in range(0, n, 1000):
            msgs = [{"to": "4917%08d" % i, "type": "text",
                     "text": {"body": "hi %s-%s-%d" % (tag, slug, i)},
                     "client_id": "%s-%d" % (tag, i)}
                    for i in range(start, min(n, start + 1000))]
            r = request(self.port, "POST", "/api/v1/w/%s/outbox" % slug,
                        body=json.dumps({"messages": msgs}).encode(),
                        headers={"Content-Type": "application/json",
                                 "Authorization": "Bearer " + self.key},
                        timeout=30)
            self.assertEqual(r.status, 202, r.text[:300])

    def sql(self, k, statement):
        return self.st.sql(statement, db=ws_db(self.st, self.slug[k]))

    def states(self, k):
        out = self.sql(k, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
        return {s: int(n) for s, n in (l.split("\t") for l in out.split("\n")
                                       if l)}

    def status(self):
        out = self.st.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                          % ", ".join("'%s'" % n for n in SHOWN))
        return {k: int(v) for k, v in
                (line.split("\t") for line in out.splitlines())}

    def counted(self, fn):
        """What fn() cost the server, the counters' own reading taken off."""
        a = self.status()
        b = self.status()
        fn()
        c = self.status()
        return {k: (c[k] - b[k]) - (b[k] - a[k]) for k in SHOWN}

    # -- the card ------------------------------------------------------------
    def test_no_connection_no_activity_no_card(self):
        p = self.page("empty")
        self.assertNotIn('id="outbox"', p.text)
        # Connected with nothing queued: the card, "Nothing queued".
        p = self.page("trips")
        self.assertIn('id="outbox"', p.text)
        self.assertEqual(text_of(p, "outbox-empty"), "Nothing queued")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "0 sent · 0 failed · 0 unknown")
        self.assertIsNone(text_of(p, "outbox-paused-why"))

    def test_queued_without_a_sender(self):
        self.enqueue("queued", 25, "q")
        p = self.page("queued")
        self.assertIsNone(text_of(p, "outbox-empty"))
        self.assertEqual(text_of(p, "outbox-queued"),
                         "25 · the oldest waiting under a minute")
        self.assertEqual(text_of(p, "outbox-sending"), "0")
        self.assertEqual(text_of(p, "outbox-paused"), "0")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "0 sent · 0 failed · 0 unknown")
        self.assertIsNone(text_of(p, "outbox-stuck"))
        # Waiting ten minutes with nothing sending: the card says so.
        self.sql("queued", "UPDATE outbox SET not_before = UTC_TIMESTAMP(3) "
                 "- INTERVAL 10 MINUTE WHERE client_id = 'q-3'")
        p = self.page("queued")
        self.assertEqual(text_of(p, "outbox-queued"),
                         "25 · the oldest waiting 10 minutes")
        self.assertIn("has waited 10 minutes and none is being sent",
                      text_of(p, "outbox-stuck"))
        self.sql("queued", "DELETE FROM outbox")  # no later test sends them

    def test_drain_counts_the_last_hour(self):
        slug = self.slug["drain"]
        self.enqueue("drain", 30, "d")
        self.sb.inject("messages", "131026", count=1,
                       match="hi d-%s-3\"" % slug)
        self.sb.inject("messages", "html", count=1,
                       match="hi d-%s-7\"" % slug)
        self.st.start_sender("sender")
        wait(lambda: set(self.states("drain")) <= {"sent", "failed",
                                                   "unknown"}, 60, "the drain")
        self.assertEqual(self.states("drain"),
                         {"sent": 28, "failed": 1, "unknown": 1})
        p = self.page("drain")
        self.assertEqual(text_of(p, "outbox-empty"), "Nothing queued")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "28 sent · 1 failed · 1 unknown")
        self.assertIn("Meta may or may not have sent them",
                      text_of(p, "outbox-unknown-note"))
        # An hour later they no longer count.
        self.sql("drain", "UPDATE outbox SET updated_at = updated_at - "
                 "INTERVAL 61 MINUTE")
        p = self.page("drain")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "0 sent · 0 failed · 0 unknown")
        self.assertIsNone(text_of(p, "outbox-unknown-note"))

    def test_190_paused_queue_says_why(self):
        slug = self.slug["pause"]
        self.enqueue("pause", 40, "p")
        self.sb.inject("messages", "190", count=1,
                       match="hi p-%s-10\"" % slug)
        self.st.start_sender("sender")
        wait(lambda: self.sql("pause", "SELECT status FROM connection")
             .strip() == "needs_reconnect", 30, "needs_reconnect")
        wait(lambda: "queued" not in self.states("pause") and
             "sending" not in self.states("pause"), 15, "paused")
        st = self.states("pause")
        p = self.page("pause")
        self.assertEqual(text_of(p, "outbox-paused"),
                         "%d · for under a minute" % st["paused"])
        self.assertEqual(text_of(p, "outbox-queued"), "0")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "%d sent · 0 failed · 0 unknown" % st.get("sent", 0))
        # Meta's 190 (subcode 463) in words, and what to do.
        self.assertEqual(text_of(p, "outbox-paused-why"),
                         "Paused: Meta no longer accepts this connection "
                         "(the access token expired). Reconnect above and "
                         "they are sent.")
        # Reconnected (as a finished reconnect leaves the row): resumed.
        self.sql("pause", "UPDATE connection SET status = 'connected', "
                 "reason = NULL")
        wait(lambda: self.states("pause") == {"sent": 40}, 30, "resumed")
        p = self.page("pause")
        self.assertIsNone(text_of(p, "outbox-paused-why"))
        self.assertEqual(text_of(p, "outbox-empty"), "Nothing queued")
        self.assertEqual(text_of(p, "outbox-last-hour"),
                         "40 sent · 0 failed · 0 unknown")

    def test_disconnected_paused_queue_says_why(self):
        """Paused rows of a workspace not connected: still shown, with
        why (the card stays while the outbox holds anything)."""
        self.sql("empty", "INSERT INTO outbox (client_id, to_addr, body, "
                 "state, not_before, created_at, updated_at) VALUES ('x-1', "
                 "'4915112345678', '{}', 'paused', UTC_TIMESTAMP(3), "
                 "UTC_TIMESTAMP(), UTC_TIMESTAMP(3) - INTERVAL 3 HOUR)")
        try:
            p = self.page("empty")
            self.assertEqual(text_of(p, "outbox-paused"), "1 · for 3 hours")
            self.assertEqual(text_of(p, "outbox-paused-why"),
                             "Paused: WhatsApp is not connected to this "
                             "workspace. Connect it above and they are sent.")
        finally:
            self.sql("empty", "DELETE FROM outbox")
        self.assertNotIn('id="outbox"', self.page("empty").text)

    def test_counts_stop_at_the_scan(self):
        """A family's scan stops after SCAN rows: the count it stopped in
        says "at least", those it reached first stay exact, those after
        are not counted."""
        self.enqueue("cap", SCAN - 1, "c")
        p = self.page("cap")
        self.assertEqual(text_of(p, "outbox-queued"),
                         "%d · the oldest waiting under a minute" % (SCAN - 1))
        self.enqueue("cap", 5, "c2")
        p = self.page("cap")
        self.assertEqual(text_of(p, "outbox-queued"),
                         "at least %d · the oldest waiting under a minute"
                         % SCAN)
        self.assertEqual(text_of(p, "outbox-paused"), "0")
        # Paused first in the scan: 3 exact, queued at least the rest.
        self.sql("cap", "UPDATE outbox SET state = 'paused' WHERE "
                 "client_id IN ('c-1', 'c-2', 'c-3')")
        p = self.page("cap")
        self.assertEqual(text_of(p, "outbox-queued"),
                         "at least %d · the oldest waiting under a minute"
                         % (SCAN - 3))
        self.assertEqual(text_of(p, "outbox-paused"), "3 · for under a minute")
        # More paused than the scan takes: queued was never reached.
        self.sql("cap", "UPDATE outbox SET state = 'paused'")
        self.enqueue("cap", 2, "c3")
        p = self.page("cap")
        self.assertEqual(text_of(p, "outbox-paused"),
                         "at least %d · for under a minute" % SCAN)
        self.assertEqual(text_of(p, "outbox-queued"),
                         "not counted · the oldest waiting under a minute")
        self.sql("cap", "DELETE FROM outbox")

    def test_card_in_chromium(self):
        """The card as a browser shows it (tests/browser/outbox.mjs): a
        queue paused after a 190, with the last hour's outcomes."""
        rows = ", ".join(
            "('s-%d', '4915112345678', '{}', '%s', UTC_TIMESTAMP(3), "
            "UTC_TIMESTAMP(), UTC_TIMESTAMP(3) - INTERVAL 5 MINUTE)"
            % (i, st) for i, st in enumerate(
                ["paused"] * 12 + ["sent"] * 30 + ["failed"] * 2 +
                ["unknown"]))
        self.sql("shot", "INSERT INTO outbox (client_id, to_addr, body, "
                 "state, not_before, created_at, updated_at) VALUES " + rows)
        self.sql("shot", "UPDATE connection SET status = 'needs_reconnect', "
                 "reason = 'the access token expired'")
        try:
            self.run_flow("outbox.mjs", "ok - outbox card flow",
                          shots="outbox", EMAIL=EMAIL, PASSWORD=PW,
                          SLUG=self.slug["shot"])
        finally:
            self.sql("shot", "DELETE FROM outbox; UPDATE connection SET "
                     "status = 'connected', reason = NULL")

    # -- the page's cost -------------------------------------------------------
    def test_one_statement_per_view_whatever_the_history(self):
        """Two statements per view (the gate's, prepared, and
        store_conn_page's, a plain query), the
        outbox's subqueries index ranges or one index entry (EXPLAIN of the
        statement the worker ran), and as many rows read per view with
        20,000 rows of history as with none."""
        loads = 10
        self.enqueue("trips", 3, "t")
        load = lambda n: [self.page("trips") for _ in range(n)]
        load(3)  # prepares what the page runs, once
        before = self.counted(lambda: load(loads))
        self.assertEqual(before["Com_stmt_execute"], loads, before)
        self.assertEqual(before["Questions"], 2 * loads, before)
        self.assertEqual(before["Com_stmt_prepare"], 0, before)
        self.assertLessEqual(sum(before[k] for k in TRIPS), 2 * loads, before)
        # History: sent and failed long ago, none of it in the last hour.
        self.sql("trips", "INSERT INTO outbox (client_id, to_addr, body, "
                 "state, not_before, created_at, updated_at) SELECT "
                 "CONCAT('h-', seq), '4915112345678', '{}', IF(seq % 10, "
                 "'sent', 'failed'), UTC_TIMESTAMP(3) - INTERVAL 2 DAY, "
                 "UTC_TIMESTAMP() - INTERVAL 2 DAY, UTC_TIMESTAMP(3) - "
                 "INTERVAL 2 DAY + INTERVAL seq SECOND FROM seq_1_to_20000")
        self.sql("trips", "ANALYZE TABLE outbox")
        load(1)
        after = self.counted(lambda: load(loads))
        self.assertEqual(after["Com_stmt_execute"], loads, after)
        self.assertEqual(after["Questions"], 2 * loads, after)
        # Nothing goes to disk, history or not (the Templates card's
        # troubled list, aggregated in the statement, once wrote an
        # on-disk temporary table on every view: store/connection.c).
        self.assertEqual(before["Created_tmp_disk_tables"], 0, before)
        self.assertEqual(after["Created_tmp_disk_tables"], 0, after)
        reads = lambda d: (d["Handler_read_next"] + d["Handler_read_prev"] +
                           d["Handler_read_rnd_next"])
        print("\nrows read per view: %.1f without history, %.1f with 20,000 "
              "rows" % (reads(before) / loads, reads(after) / loads))
        self.assertLessEqual(reads(after), reads(before) + loads, after)
        # The statement itself, as the worker ran it, explained.
        self.st.sql("TRUNCATE mysql.general_log; SET GLOBAL log_output = "
                    "'TABLE'; SET GLOBAL general_log = 1")
        try:
            load(1)
        finally:
            self.st.sql("SET GLOBAL general_log = 0")
        stmt = [s for s in self.st.sql(
            "SELECT REPLACE(REPLACE(argument, '\\n', ' '), '\\t', ' ') FROM "
            "mysql.general_log WHERE command_type = 'Query'").split("\n")
            if "JSON_OBJECT('now'" in s]
        self.assertEqual(len(stmt), 1, stmt)
        plan = [l.split("\t") for l in
                self.st.sql("EXPLAIN " + stmt[0]).split("\n") if l]
        outbox = [r for r in plan if r[2] == "outbox"]
        # Two scans (now, the last hour), each a range of its index read
        # backwards (ORDER BY state DESC), no sort.
        self.assertEqual(len(outbox), 2, plan)
        self.assertEqual(sorted(r[5] for r in outbox),
                         ["outbox_claim", "outbox_updated"], plan)
        for r in outbox:
            self.assertEqual((r[1], r[3]), ("DERIVED", "range"), r)
            self.assertIn("Using index", r[9], r)
            self.assertNotIn("filesort", r[9], r)
        # The outbox's column alone: its two temporary tables in memory.
        col = stmt[0][stmt[0].index("JSON_OBJECT('now'"):]
        depth = 0
        for i, ch in enumerate(col):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == ")" and depth == 0:
                col = col[:i + 1]
                break
        tmp = dict(l.split("\t") for l in self.st.sql(
            "FLUSH STATUS; SELECT %s INTO @o; SHOW SESSION STATUS LIKE "
            "'Created_tmp%%'" % col).split("\n") if l)
        self.assertEqual((tmp["Created_tmp_tables"],
                          tmp["Created_tmp_disk_tables"]), ("2", "0"), tmp)
        # The two ages: MIN() of an index's first entry (none: no row).
        self.assertEqual(sum(1 for r in plan if r[9] in (
            "Select tables optimized away", "No matching min/max row")), 2,
            plan)
        self.sql("trips", "DELETE FROM outbox")
