"""Issue 9, item 3: the settings page in at most 2 database round trips.

Counted by the server itself: SHOW GLOBAL STATUS before and after N page
loads on a stack nobody else uses (its own MariaDB, one worker, no Meta
calls). Every command a client sends costs one round trip; the server
counts each in one of these:
- Questions: COM_QUERY, COM_STMT_EXECUTE, COM_STMT_FETCH...: everything
  but the commands MariaDB leaves out of it, which are
- Com_stmt_prepare, Com_stmt_close, Com_stmt_reset, and
- Com_admin_commands (COM_PING among them).
Reading the counters is itself a client (one SHOW, a connect): its own
share is measured by two reads with nothing between them and taken off.
The worker prepares each statement once per connection, so the loads
counted come after a warm-up, and the test checks that they prepared
nothing.
"""
import hashlib

from base import StackCase
from meta import settings_path, sign_in

PW = "round trip test password"
SLUG = "trips"
S = settings_path(SLUG)
LOADS = 20
TRIPS = ("Questions", "Com_stmt_prepare", "Com_stmt_close",
         "Com_stmt_reset", "Com_admin_commands")
SHOWN = TRIPS + ("Com_stmt_execute", "Com_select", "Com_update")


class RoundTrips(StackCase):
    workers = 1  # one statement cache: the warm-up fills it

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", SLUG, "Trips Ltd")
        cls.st.admin("user", "add", SLUG, "tess@trips.example",
                     input=PW + "\n")

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

    def load(self, b, n=1):
        for _ in range(n):
            r = b.get(S)
            self.assertEqual(r.status, 200, r.text[:500])
            self.assertIn("Trips Ltd", r.text)

    def trips(self, d):
        return sum(d[k] for k in TRIPS)

    def where(self, b):
        """The browser's session row (stored by the SHA-256 of its id)."""
        raw = bytes.fromhex(b.jar["waba_session"])
        return "id_hash = X'%s'" % hashlib.sha256(raw).hexdigest()

    def seen_minutes_ago(self, b, minutes):
        self.st.sql("UPDATE waba_control.sessions SET last_seen_at = "
                    "UTC_TIMESTAMP() - INTERVAL %d MINUTE WHERE %s"
                    % (minutes, self.where(b)))

    def last_seen_age(self, b):
        return int(self.st.sql("SELECT TIMESTAMPDIFF(SECOND, last_seen_at, "
                               "UTC_TIMESTAMP()) FROM waba_control.sessions "
                               "WHERE %s" % self.where(b)))

    def test_settings_page_costs_two_round_trips(self):
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b, 3)  # prepares what the page runs, once
        d = self.counted(lambda: self.load(b, LOADS))
        per = {k: d[k] / LOADS for k in SHOWN}
        print("\nsettings page, per load: %s" % ", ".join(
            "%s %.2f" % kv for kv in per.items()))
        self.assertLessEqual(self.trips(d), 2 * LOADS, per)
        self.assertEqual(d["Com_stmt_prepare"], 0, per)
        self.assertEqual(d["Com_stmt_reset"], 0, per)
        # Not fewer either: the page did read its data (two statements).
        self.assertEqual(d["Com_stmt_execute"], 2 * LOADS, per)

    def test_idle_slide_costs_one_write(self):
        """The idle expiry slides at most once a minute: the view that
        slides it pays one more round trip (the UPDATE), the next ones
        do not."""
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b, 3)
        self.seen_minutes_ago(b, 2)
        self.load(b)  # prepares the slide's UPDATE, once
        self.seen_minutes_ago(b, 2)
        d = self.counted(lambda: self.load(b))
        self.assertLess(self.last_seen_age(b), 60)
        self.assertEqual(d["Com_update"], 1, d)
        self.assertEqual(d["Com_stmt_prepare"], 0, d)
        self.assertLessEqual(self.trips(d), 3, d)
        d = self.counted(lambda: self.load(b, 5))
        self.assertEqual(d["Com_update"], 0, d)
        self.assertLessEqual(self.trips(d), 2 * 5, d)

    def test_gate_refuses_in_its_one_statement(self):
        """The one gate statement still tells its three refusals apart."""
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b)
        r = b.get(settings_path("nosuch"))
        self.assertEqual(r.status, 404)
        self.st.admin("workspace", "add", "elsewhere", "Elsewhere")
        r = b.get(settings_path("elsewhere"))
        self.assertEqual(r.status, 404)
        self.assertNotIn("Elsewhere", r.text)
        # Idle past the limit: signed out, not 404.
        self.seen_minutes_ago(b, 24 * 60)
        r = b.get(S)
        self.assertEqual(r.status, 303)
        self.assertTrue(r.header("Location").endswith("/login"))
