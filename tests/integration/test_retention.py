"""Issue 8, item 10: the settings page and `status --json` count webhook
events from per-hour counters kept in the delivery's transaction (not a
COUNT(*) over 24 hours on every view), and `waba-connect-admin prune`
removes events and counters older than [webhooks] retention_days."""
import json
import re

from client import request
from meta import PHONE, WABA, settings_path
from test_webhooks import WebhookBase, account_update, messages_body, msg

# The counters work by whole UTC hours (see store_wh_health,
# store_wh_prune): the ages below are on the safe side of each edge.
DB = "waba_ws_1"
HOUR = 3600
DAY = 24 * HOUR


class Retention(WebhookBase):
    workers = 2
    config = {"webhooks.retention_days": "7"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alpha = cls.connect("a@alpha.example", "alpha", PHONE)

    def sql(self, statement, db=DB):
        return self.st.sql(statement, db=db)

    def deliver(self, *wamids):
        body = messages_body(PHONE, [msg(w, "text " + w) for w in wamids])
        r = request(self.port, "POST", "/webhooks/meta", body=body, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": self.sign(body)})
        self.assertEqual(r.status, 200, r.text[:300])

    def shown(self):
        """(page count, status --json count): both must agree."""
        page = self.alpha.get(settings_path("alpha"))
        m = re.search(r'id="webhook-health">[^<]*?(\d+) in the last 24 '
                      r'hours<', page.text)
        self.assertIsNotNone(m, page.text[:2000])
        js = json.loads(self.st.admin("status", "alpha", "--json").stdout)
        self.assertEqual(int(m.group(1)), js["webhook_events"])
        return js["webhook_events"], js["last_webhook_at"]

    def insert_old(self, prefix, n, age, db=DB):
        """n events received age seconds ago, straight into the table
        (the counters are then rebuilt by backfill())."""
        self.sql("INSERT INTO webhook_events (dedup_key, kind, received_at) "
                 "SELECT CONCAT('%s', seq), 'message', UTC_TIMESTAMP() - "
                 "INTERVAL %d SECOND FROM seq_1_to_%d" % (prefix, age, n),
                 db=db)

    def backfill(self):
        """Workspace migrations from 3 on again: 3's backfill recounts the hours
        from the events, as an upgrade does."""
        self.st.sql("DELETE FROM waba_ws_1.schema_version WHERE version >= 3;"
                    "DELETE FROM waba_ws_2.schema_version WHERE version >= 3")
        r = self.st.admin("migrate")
        self.assertIn("applied version 3", r.stdout)

    def assert_coherent(self, db=DB):
        """Every hourly row counts exactly its hour's events, and every
        hour with events has its row."""
        bad = self.sql(
            "SELECT h.hour, h.events, e.n FROM webhook_hourly h LEFT JOIN "
            "(SELECT DATE_FORMAT(received_at, '%Y-%m-%d %H:00:00') AS hr, "
            "COUNT(*) AS n, MAX(received_at) AS last FROM webhook_events "
            "GROUP BY hr) e ON e.hr = h.hour WHERE e.n IS NULL OR "
            "e.n <> h.events OR e.last <> h.last_at UNION ALL "
            "SELECT e.hr, NULL, e.n FROM (SELECT DISTINCT DATE_FORMAT("
            "received_at, '%Y-%m-%d %H:00:00') AS hr, 0 AS n FROM "
            "webhook_events) e LEFT JOIN webhook_hourly h ON h.hour = e.hr "
            "WHERE h.hour IS NULL", db=db)
        self.assertEqual(bad.strip(), "", "counters disagree with events")

    def test_1_deliveries_counted_once(self):
        before, _ = self.shown()
        self.deliver("wamid.ret-a")
        self.deliver("wamid.ret-b", "wamid.ret-c")
        self.assertEqual(self.shown()[0], before + 3)
        # Redeliveries, alone or next to a new event, count only the new.
        self.deliver("wamid.ret-a")
        self.deliver("wamid.ret-b", "wamid.ret-d")
        count, last = self.shown()
        self.assertEqual(count, before + 4)
        self.assertEqual(last.replace("T", " ").rstrip("Z"), self.sql(
            "SELECT MAX(received_at) FROM webhook_events").strip())
        self.assert_coherent()

    def test_2_older_than_24_hours_not_counted(self):
        before, _ = self.shown()
        self.insert_old("m:old-day-", 5, DAY + 1)
        self.insert_old("m:old-2d-", 7, 2 * DAY)
        # Counted whatever the hour: the window is the current hour and
        # the 23 before it.
        self.insert_old("m:recent-", 3, 23 * HOUR - 60)
        self.backfill()
        self.assert_coherent()
        self.assertEqual(self.shown()[0], before + 3)

    def test_3_prune(self):
        # retention_days = 7, cut at the start of an hour: older than 7
        # days and 1 hour always goes, younger than 7 days always stays.
        self.insert_old("m:prune-8d-", 2500, 8 * DAY)
        self.insert_old("m:prune-7d1h-", 4, 7 * DAY + HOUR + 1)
        self.insert_old("m:keep-6d23h-", 6, 7 * DAY - HOUR)
        self.insert_old("m:beta-8d-", 3, 8 * DAY, db="waba_ws_2")
        self.backfill()
        keep = self.sql("SELECT COUNT(*) FROM webhook_events WHERE "
                        "dedup_key NOT LIKE 'm:prune-%'")
        shown = self.shown()[0]

        # One workspace: the other keeps its old events.
        r = self.st.admin("prune", "--workspace", "alpha")
        self.assertIn("pruning webhook events older than 7 days", r.stdout)
        for n in (1000, 2000, 2504):
            self.assertIn("workspace alpha: webhook_events: %d rows deleted "
                          "so far" % n, r.stdout)
        self.assertIn("workspace alpha: pruned 2504 webhook events and 2 "
                      "hourly counters", r.stdout)
        self.assertIn("pruned 2504 webhook events and 2 hourly counters in "
                      "1 workspace(s)", r.stdout)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_events WHERE "
                                  "dedup_key LIKE 'm:prune-%'").strip(), "0")
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_events"),
                         keep)
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_events WHERE "
                                  "dedup_key LIKE 'm:keep-%'").strip(), "6")
        self.assert_coherent()
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_hourly WHERE "
                                  "hour < UTC_TIMESTAMP() - INTERVAL 7 DAY - "
                                  "INTERVAL 1 HOUR").strip(), "0")
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_events",
                                  db="waba_ws_2").strip(), "3")
        self.assertEqual(self.shown()[0], shown)

        # Every workspace; a second run finds nothing.
        r = self.st.admin("prune")
        self.assertIn("workspace alpha: pruned 0 webhook events and 0 hourly "
                      "counters", r.stdout)
        self.assertIn("workspace beta: pruned 3 webhook events and 1 hourly "
                      "counters", r.stdout)
        self.assertIn("pruned 3 webhook events and 1 hourly counters in 2 "
                      "workspace(s)", r.stdout)
        self.assert_coherent("waba_ws_2")
        # Still deduplicated and counted after pruning.
        before = self.shown()[0]
        self.deliver("wamid.ret-e", "wamid.ret-a")
        self.assertEqual(self.shown()[0], before + 1)
        self.assert_coherent()

    def test_5_rolled_back_delivery_counts_nothing(self):
        body = json.loads(messages_body(PHONE, [msg("wamid.ret-rb", "x")]))
        body["entry"] += json.loads(account_update(
            WABA, "ACCOUNT_VIOLATION", violation_info={
                "violation_type": "SCAM"}))["entry"]
        body = json.dumps(body).encode()
        hdr = {"Content-Type": "application/json",
               "X-Hub-Signature-256": self.sign(body)}
        before = self.shown()[0]
        # The account_update's audit row cannot be written: the whole
        # delivery, the message's event and count included, rolls back.
        self.sql("RENAME TABLE audit_log TO audit_log_away")
        try:
            r = request(self.port, "POST", "/webhooks/meta", body=body,
                        headers=hdr)
            self.assertNotEqual(r.status, 200)
        finally:
            self.sql("RENAME TABLE audit_log_away TO audit_log")
        self.assertEqual(self.shown()[0], before)
        self.assert_coherent()
        r = request(self.port, "POST", "/webhooks/meta", body=body,
                    headers=hdr)
        self.assertEqual(r.status, 200)
        self.assertEqual(self.shown()[0], before + 2)
        self.assert_coherent()

    def test_6_unmigrated_database_keeps_storing(self):
        """A database still at version 2 (program upgraded, migrate not
        yet run) stores deliveries; the upgrade's backfill counts them."""
        self.sql("DROP TABLE webhook_hourly; DELETE FROM schema_version "
                 "WHERE version >= 3")
        try:
            self.deliver("wamid.ret-v2a", "wamid.ret-v2b")
        finally:
            self.st.admin("migrate")
        self.assertEqual(self.sql("SELECT COUNT(*) FROM webhook_events WHERE "
                                  "message_id LIKE 'wamid.ret-v2%'").strip(),
                         "2")
        self.assert_coherent()

    def page_reads(self):
        """Rows the database read for one view of the settings page."""
        q = ("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_read_next',"
             " 'Handler_read_prev', 'Handler_read_rnd_next', "
             "'Handler_read_key', 'Handler_read_first', 'Handler_read_last')")

        def total():
            return sum(int(line.split()[1]) for line in
                       self.st.sql(q).strip().splitlines())
        self.alpha.get(settings_path("alpha"))  # statement caches warm
        a = total()
        self.assertEqual(self.alpha.get(settings_path("alpha")).status, 200)
        return total() - a

    def test_4_page_cost_does_not_grow_with_events(self):
        few = self.page_reads()
        self.insert_old("m:many-", 20000, 600)
        self.backfill()
        # The page's last test message sits under 20,000 newer audit
        # entries (account_update events): found by the (action, id)
        # index, not by reading the log backwards.
        self.sql("INSERT INTO audit_log (at, actor, action, detail) VALUES "
                 "(UTC_TIMESTAMP(), 'a@alpha.example', 'test_message', "
                 "'to 4915112345678'); INSERT INTO audit_log (at, actor, "
                 "action, detail) SELECT UTC_TIMESTAMP(), 'meta', "
                 "'account_update', 'x' FROM seq_1_to_20000")
        many = self.page_reads()
        # The old COUNT(*) read one index entry per event of the day.
        self.assertLess(many - few, 100, (few, many))

    def test_prune_usage(self):
        for args in (["prune", "extra"], ["prune", "--workspace"],
                     ["prune", "--json"], ["prune", "--workspacealpha"]):
            r = self.st.admin(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr)
        r = self.st.admin("prune", "--workspace", "nobody", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no workspace nobody", r.stderr)
        r = self.st.admin("prune", "--workspace", "Bad!", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad workspace slug", r.stderr)
