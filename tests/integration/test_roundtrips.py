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
Nothing else talks to this MariaDB meanwhile: no health check polls the
stack, and the workers touch the database only for a request (the exact
count of executes below would show anything else).
The worker prepares each statement once per connection, so the loads
counted come after a warm-up, and the test checks that they prepared
nothing.
"""
import hashlib
import json
import time

from base import StackCase
from meta import post_webhook, settings_path, sign_in
from stack import wait_for

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
        st = cls.st
        cls.sock2 = st.start_mariadb("mariadb2")
        st.admin("workspace", "add", SLUG, "Trips Ltd")
        st.admin("workspace", "add", "afar", "Afar Ltd", "--db-socket",
                 cls.sock2)
        st.admin("user", "add", SLUG, "tess@trips.example", input=PW + "\n")
        st.admin("user", "add", "afar", "tess@trips.example")

    def status(self, socket=None):
        out = self.st.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                          % ", ".join("'%s'" % n for n in SHOWN),
                          socket=socket)
        return {k: int(v) for k, v in
                (line.split("\t") for line in out.splitlines())}

    def counted(self, fn, socket=None):
        """What fn() cost the server, the counters' own reading taken off."""
        a = self.status(socket)
        b = self.status(socket)
        fn()
        c = self.status(socket)
        return {k: (c[k] - b[k]) - (b[k] - a[k]) for k in SHOWN}

    def load(self, b, n=1, slug=SLUG, name="Trips Ltd"):
        for _ in range(n):
            r = b.get(settings_path(slug))
            self.assertEqual(r.status, 200, r.text[:500])
            self.assertIn(name, r.text)

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
        # Not fewer either: the page did read its data (two statements):
        # the gate's prepared one, and its own as one plain query.
        self.assertEqual(d["Com_stmt_execute"], LOADS, per)
        self.assertEqual(d["Questions"], 2 * LOADS, per)

    def test_a_workspace_never_seen_prepares_nothing(self):
        """The page's statement, its text the workspace's own, is a
        plain query: a workspace this worker has not shown before costs
        no prepare (and takes no place in the statement cache), and its
        page is the same two round trips."""
        st = self.st
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b, 3)
        for i in range(3):
            slug = "fresh%d" % i
            st.admin("workspace", "add", slug, "Fresh %d Ltd" % i)
            st.admin("user", "add", slug, "tess@trips.example")
            d = self.counted(lambda: self.load(b, 1, slug, "Fresh %d Ltd" % i))
            self.assertEqual(d["Com_stmt_prepare"], 0, d)
            self.assertEqual(d["Com_stmt_close"], 0, d)
            self.assertEqual(self.trips(d), 2, d)

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

    def test_workspace_on_another_server(self):
        """One round trip on each server: the gate on the control
        server, the page's data where the workspace lives, and no ping
        before either."""
        b = sign_in(self.port, "tess@trips.example", PW)
        afar = lambda n=1: self.load(b, n, "afar", "Afar Ltd")  # noqa: E731
        afar(3)
        here, there = {}, {}

        def both():
            there.update(self.counted(lambda: afar(LOADS), self.sock2))
        here.update(self.counted(both))
        # The inner reading of the second server is a client of its
        # own, not of the control server: nothing of it lands here.
        for d in (here, there):
            self.assertEqual(d["Com_stmt_prepare"], 0, d)
            self.assertEqual(d["Com_admin_commands"], 0, d)
            self.assertEqual(self.trips(d), LOADS, d)

    def test_zz_mariadb_restarted(self):
        """The gate is the connection's check: a connection the restart
        killed costs the next page a second try of its read, not a 503."""
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b, 3)
        pids = self.st.worker_pids()
        self.st.stop_mariadb()
        self.st.start_mariadb()
        self.load(b)
        d = self.counted(lambda: self.load(b, 5))
        self.assertLessEqual(self.trips(d), 2 * 5, d)
        self.assertEqual(self.st.worker_pids(), pids)
        wait_for(lambda: "reading again" in self.pool_log(), 5,
                 "the log line of the second try")

    def test_zz_workspace_server_restarted(self):
        """On a workspace's own server the page's plain query is the
        first to find the connection dead: it is sent once more on a new
        one, the page answers 200."""
        b = sign_in(self.port, "tess@trips.example", PW)
        self.load(b, 3, "afar", "Afar Ltd")
        before = self.pool_log().count("reading again")
        pids = self.st.worker_pids()
        self.st.stop_mariadb("mariadb2")
        self.st.start_mariadb("mariadb2")
        self.load(b, 1, "afar", "Afar Ltd")
        d = self.counted(lambda: self.load(b, 5, "afar", "Afar Ltd"),
                         self.sock2)
        self.assertEqual(self.trips(d), 5, d)
        self.assertEqual(self.st.worker_pids(), pids)
        wait_for(lambda: self.pool_log().count("reading again") > before, 5,
                 "the log line of the second try")

    def pool_log(self):
        with open(self.st.path("pool.log"), errors="replace") as f:
            return f.read()

    def deliver(self, phone, *wamids):
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "510000000077", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550177",
                             "phone_number_id": phone},
                "messages": [{"from": "4915112345678", "id": wamid,
                              "timestamp": "1764570000", "type": "text",
                              "text": {"body": "hi"}}
                             for wamid in wamids]}}]}]}).encode()
        r = post_webhook(self.port, self.st.app_secret, body)
        self.assertEqual(r.status, 200, r.text[:300])

    def test_webhook_delivery_costs_five_round_trips(self):
        """A message's delivery: its route with the workspace (one
        statement, which is also the connection's check: no ping),
        then START TRANSACTION, the event, its hour's counter, COMMIT;
        START TRANSACTION and the event prepared once per connection
        like any other statement, the counter a plain query (it binds
        nothing). It was eleven: a ping, the route and the workspace
        apart, and both inserts prepared and closed every time."""
        ws = self.st.sql("SELECT id, db_name FROM workspaces WHERE slug = "
                         "'%s'" % SLUG, db="waba_control").split()
        phone = "600000000077"
        self.st.sql("INSERT IGNORE INTO webhook_routes (kind, external_id, "
                    "workspace_id) VALUES ('phone', '%s', %s)"
                    % (phone, ws[0]), db="waba_control")
        for i in range(3):
            self.deliver(phone, "wamid.trips.warm.%d" % i)
        d = self.counted(lambda: [self.deliver(phone, "wamid.trips.%d" % i)
                                  for i in range(LOADS)])
        per = {k: d[k] / LOADS for k in SHOWN}
        print("\nwebhook delivery, per delivery: %s" % ", ".join(
            "%s %.2f" % kv for kv in per.items()))
        self.assertEqual(d["Com_stmt_prepare"], 0, per)
        self.assertEqual(d["Com_stmt_close"], 0, per)
        # The counter goes as a plain query, the rest prepared.
        self.assertEqual(d["Com_stmt_execute"], 3 * LOADS, per)
        self.assertEqual(d["Questions"], 5 * LOADS, per)
        self.assertLessEqual(self.trips(d), 5 * LOADS, per)
        self.assertEqual(self.st.sql(
            "SELECT COUNT(*) FROM webhook_events WHERE message_id LIKE "
            "'wamid.trips.%%'", db=ws[1]).strip(), str(LOADS + 3))
        # A batch of one number's events reads its route once: five
        # messages in one delivery are the route, START TRANSACTION
        # (a prepared statement too) and each event's two inserts.
        d = self.counted(lambda: self.deliver(
            phone, *("wamid.trips.batch.%d" % i for i in range(5))))
        self.assertEqual(d["Com_stmt_execute"], 1 + 1 + 5, d)
        self.assertEqual(d["Questions"], 1 + 1 + 2 * 5 + 1, d)
        self.assertEqual(d["Com_stmt_prepare"], 0, d)

    def test_webhook_for_a_workspace_never_seen_prepares_one(self):
        """Both inserts' texts are the workspace's own: over many
        workspaces the statement cache cannot keep them, so what a
        delivery to a workspace this worker has not served costs is
        what nearly every delivery costs there. The event's insert is
        prepared (it binds Meta's values); the hour's counter binds
        nothing and goes as a plain query, so one prepare, not two."""
        st = self.st
        for i in range(4):
            slug, phone = "hook%d" % i, "60000000010%d" % i
            st.admin("workspace", "add", slug, "Hook %d Ltd" % i)
            wid = st.sql("SELECT id FROM workspaces WHERE slug = '%s'"
                         % slug, db="waba_control").strip()
            st.sql("INSERT INTO webhook_routes (kind, external_id, "
                   "workspace_id) VALUES ('phone', '%s', %s)"
                   % (phone, wid), db="waba_control")
        # The first prepares what every workspace shares (the route's
        # read, START TRANSACTION).
        self.deliver("600000000103", "wamid.fresh.warm")
        for i in range(3):
            phone = "60000000010%d" % i
            d = self.counted(lambda: self.deliver(phone, "wamid.fresh.%d" % i))
            self.assertEqual(d["Com_stmt_prepare"], 1, d)
            self.assertEqual(d["Com_stmt_close"], 0, d)
            self.assertEqual(self.trips(d), 6, d)


class SendRoundTrips(RoundTrips):
    """Issue 11: a POST /messages costs one statement, the key gate
    (control database) with the connection and its token
    (store_apikey_auth_conn), once the worker has seen the workspace,
    and the worker reuses what it read for [api] gate_lease_ms (250 ms,
    app.h): a statement per lease, not per send. Send health
    is tallied in the worker and written at most once a second
    (store/sends.h), not per send."""
    workers = 1
    sandbox = True
    SENDS = 40

    @classmethod
    def setUpStack(cls):
        from gateway import add_key, add_sender
        from meta import Sandbox
        st = cls.st
        cls.sb = Sandbox(st.sandbox_port, st.app_secret)
        st.admin("workspace", "add", "sends", "Sends Ltd")
        add_sender(st, cls.sb, "sends", "500000000009", "600000000009")
        cls.key = add_key(st, "trips", "messages:send")

    def send_n(self, n):
        from gateway import send
        for _ in range(n):
            r = send(self.port, "sends", self.key,
                     {"to": "4915112345678", "type": "text",
                      "text": {"body": "trips"}})
            self.assertEqual(r.status, 200, r.text[:300])

    def written(self, n):
        db = self.st.sql("SELECT db_name FROM workspaces WHERE slug = "
                         "'sends'", db="waba_control").strip()
        wait_for(lambda: self.st.sql(
            "SELECT COALESCE(SUM(ok), 0) FROM send_hourly", db=db).strip()
            == str(n), 10, "send health written")

    def test_send_costs_a_statement_per_lease(self):
        from gateway import GATE_LEASE
        # Prepares what a send runs (the tally's upsert too, written
        # once the worker is idle), touches the key's last_used_at.
        self.send_n(3)
        self.written(3)
        took = []

        def timed():
            t = time.monotonic()
            self.send_n(self.SENDS)
            took.append(time.monotonic() - t)
        d = self.counted(timed)
        per = {k: d[k] / self.SENDS for k in SHOWN}
        print("\nPOST /messages, per send (%d in %.2f s): %s" % (
            self.SENDS, took[0], ", ".join("%s %.2f" % kv
                                          for kv in per.items())))
        self.assertEqual(d["Com_stmt_prepare"], 0, per)
        # A gate read per lease begun (the first may come at once), and
        # a tally written while the sends ran: one statement a second.
        most = int(took[0] / GATE_LEASE) + 2 + int(took[0]) + 2
        self.assertLessEqual(d["Com_stmt_execute"], most, per)
        self.assertLess(d["Com_stmt_execute"], self.SENDS, per)
        self.assertLessEqual(self.trips(d), most, per)
        # And every send was counted all the same, once.
        self.written(self.SENDS + 3)

    # The page's tests are RoundTrips'; not run twice.
    test_settings_page_costs_two_round_trips = None
    test_idle_slide_costs_one_write = None
    test_gate_refuses_in_its_one_statement = None
    test_workspace_on_another_server = None
    test_zz_mariadb_restarted = None
    test_a_workspace_never_seen_prepares_nothing = None
    test_zz_workspace_server_restarted = None
    test_webhook_delivery_costs_five_round_trips = None
    test_webhook_for_a_workspace_never_seen_prepares_one = None
