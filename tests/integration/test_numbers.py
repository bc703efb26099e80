"""Issue 10, item 1: several numbers per workspace — add, make default,
remove (and deregister, confirmed), one workspace per number, routes per
number, status --json, and the migration of a single-number workspace;
item 2, number states; item 4, coexistence (WhatsApp Business app
numbers: no register, the one-time syncs, their webhooks)."""
import json
import time

from base import StackCase
from meta import (PHONE, PHONE2, PHONE_EU, WABA, WABA2, Sandbox, add_number,
                  csrf, post_form, settings_path, sign_in, start_connect)

PW = "numbers test password"


def node(req):
    """The Graph node a recorded sandbox request was about."""
    return req["path"].split("/")[2]
S = settings_path("acme")


class Numbers(StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme Ltd")
        cls.st.admin("workspace", "add", "other", "Other Co")
        cls.st.admin("user", "add", "acme", "alice@acme.example",
                     input=PW + "\n")
        cls.st.admin("user", "add", "other", "olga@other.example",
                     input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        self.o = sign_in(self.port, "olga@other.example", PW)
        for b, slug in ((self.b, "acme"), (self.o, "other")):
            r = post_form(b, settings_path(slug) + "/disconnect", {})
            self.assertEqual(r.status, 303)

    def callback(self, b, slug, scenario=None):
        r = b.get(self.sb.decide(start_connect(b, slug), scenario=scenario))
        self.assertEqual(r.status, 303, r.text[:500])
        return r

    def numbers(self, db="waba_ws_1"):
        out = self.st.sql("SELECT id, is_default, state FROM phone_numbers "
                          "ORDER BY id", db=db)
        return [tuple(l.split("\t")) for l in out.splitlines()]

    def default(self, db="waba_ws_1"):
        return self.st.sql("SELECT IFNULL(phone_number_id, ''), status FROM "
                           "connection", db=db).split()

    def routes(self, kind="phone"):
        out = self.st.sql("SELECT external_id, workspace_id FROM "
                          "webhook_routes WHERE kind = '%s' ORDER BY "
                          "external_id" % kind, db="waba_control")
        return [tuple(l.split("\t")) for l in out.splitlines()]

    def status_json(self, slug="acme"):
        return json.loads(self.st.admin("status", slug, "--json").stdout)

    def test_add_default_remove(self):
        self.callback(self.b, "acme")
        r = add_number(self.b, "acme", PHONE)
        self.assertEqual(r.header("Location"), S + "?m=connected")
        # The second number is offered, the first is not any more.
        page = self.b.get(S + "/phone-numbers")
        self.assertIn("Add a phone number", page.text)
        self.assertNotIn('value="%s"' % PHONE, page.text)
        self.assertIn('value="%s"' % PHONE2, page.text)
        r = add_number(self.b, "acme", PHONE2)
        self.assertEqual(r.header("Location"), S + "?m=phone_added")
        self.assertEqual(self.numbers(), [(PHONE, "1", "active"),
                                          (PHONE2, "0", "active")])
        self.assertEqual(self.default(), [PHONE, "connected"])
        self.assertEqual(self.routes(), [(PHONE, "1"), (PHONE2, "1")])
        # Both registered, the WABA subscribed.
        self.assertEqual(sorted(node(q) for q in self.sb.requests("register")),
                         sorted([PHONE, PHONE2]))
        page = self.b.get(S)
        self.assertIn('id="number-%s"' % PHONE2, page.text)
        self.assertIn('id="default-%s"' % PHONE2, page.text)
        self.assertNotIn('id="default-%s"' % PHONE, page.text)
        self.assertIn("1,000 customers a day", page.text)
        doc = self.status_json()
        self.assertEqual(doc["phone_number_id"], PHONE)
        self.assertEqual([(n["phone_number_id"], n["is_default"])
                          for n in doc["phone_numbers"]],
                         [(PHONE, True), (PHONE2, False)])
        self.assertEqual(doc["phone_numbers"][1]["display_phone_number"],
                         "+1 555 0101")

        # Make the second the default: the connection row follows.
        r = post_form(self.b, S + "/phone-numbers/%s/default" % PHONE2, {})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), S + "?m=default_changed")
        self.assertEqual(self.default(), [PHONE2, "connected"])
        doc = self.status_json()
        self.assertEqual((doc["phone_number_id"], doc["display_phone_number"]),
                         (PHONE2, "+1 555 0101"))
        self.assertEqual(doc["phone_numbers"][0]["phone_number_id"], PHONE2)
        # A number this workspace does not use cannot be the default.
        r = post_form(self.b, S + "/phone-numbers/%s/default" % PHONE_EU, {})
        self.assertEqual(r.status, 400)
        r = post_form(self.b, S + "/phone-numbers/12ab/default", {})
        self.assertEqual(r.status, 400)
        self.assertIn("phone number ID", r.text)
        self.assertEqual(self.default(), [PHONE2, "connected"])

        # Removing the default hands the role to the other number.
        r = post_form(self.b, S + "/phone-numbers/%s/remove" % PHONE2, {})
        self.assertEqual(r.header("Location"), S + "?m=phone_removed")
        self.assertEqual(self.numbers(), [(PHONE, "1", "active")])
        self.assertEqual(self.default(), [PHONE, "connected"])
        self.assertEqual(self.routes(), [(PHONE, "1")])
        self.assertEqual(self.sb.requests("deregister"), [])
        # The last one: the connection waits for a number.
        r = post_form(self.b, S + "/phone-numbers/%s/remove" % PHONE, {})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.numbers(), [])
        self.assertEqual(self.default(), ["pending_phone_selection"])
        self.assertEqual(self.routes(), [])
        self.assertEqual(self.routes("waba"), [(WABA, "1")])
        r = post_form(self.b, S + "/phone-numbers/%s/remove" % PHONE, {})
        self.assertEqual(r.status, 404)

    def test_deregister_is_confirmed(self):
        self.callback(self.b, "acme")
        add_number(self.b, "acme", PHONE)
        r = post_form(self.b, S + "/phone-numbers/%s/remove" % PHONE,
                      {"deregister": "1"})
        self.assertEqual(r.status, 200)
        self.assertIn("Deregister this number?", r.text)
        self.assertIn('id="confirm-deregister"', r.text)
        self.assertEqual(self.sb.requests("deregister"), [])
        self.assertEqual(self.numbers(), [(PHONE, "1", "active")])
        r = self.b.post(S + "/phone-numbers/%s/remove" % PHONE,
                        {"csrf_token": csrf(r), "deregister": "1",
                         "confirm": "1"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), S + "?m=phone_deregistered")
        self.assertEqual([node(q) for q in self.sb.requests("deregister")],
                         [PHONE])
        self.assertEqual(self.numbers(), [])
        # A bad box value is refused with its name, nothing changes.
        add_number(self.b, "acme", PHONE)
        r = post_form(self.b, S + "/phone-numbers/%s/remove" % PHONE,
                      {"deregister": "yes"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.numbers(), [(PHONE, "1", "active")])

    def test_deregister_refused_keeps_the_number(self):
        self.callback(self.b, "acme")
        add_number(self.b, "acme", PHONE)
        self.sb.inject("deregister", "133016")
        page = self.b.get(S)
        r = self.b.post(S + "/phone-numbers/%s/remove" % PHONE,
                        {"csrf_token": csrf(page), "deregister": "1",
                         "confirm": "1"})
        self.assertGreaterEqual(r.status, 400)
        self.assertEqual(self.numbers(), [(PHONE, "1", "active")])
        self.assertEqual(self.routes(), [(PHONE, "1")])

    def test_number_of_another_workspace_cannot_be_added(self):
        self.callback(self.b, "acme")
        add_number(self.b, "acme", PHONE)
        self.callback(self.o, "other")
        page = self.o.get(settings_path("other") + "/phone-numbers")
        self.assertNotIn('value="%s"' % PHONE, page.text)
        before = len(self.sb.requests("register"))
        r = add_number(self.o, "other", PHONE, status=409)
        self.assertIn("already used by another workspace", r.text)
        self.assertEqual(len(self.sb.requests("register")), before)
        self.assertEqual(self.numbers("waba_ws_2"), [])
        self.assertEqual(self.routes(), [(PHONE, "1")])
        # The other one is free.
        add_number(self.o, "other", PHONE2)
        self.assertEqual(self.routes(), [(PHONE, "1"), (PHONE2, "2")])

    def test_numbers_of_other_granted_wabas(self):
        self.callback(self.b, "acme", scenario="two_wabas")
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "waba_id": WABA})
        self.assertEqual(r.status, 303)
        page = self.b.get(S + "/phone-numbers")
        for p in (PHONE, PHONE2, PHONE_EU):
            self.assertIn('value="%s"' % p, page.text)
        add_number(self.b, "acme", PHONE)
        add_number(self.b, "acme", PHONE_EU)
        out = self.st.sql("SELECT id, waba_id FROM phone_numbers ORDER BY id",
                          db="waba_ws_1").split()
        self.assertEqual(out, [PHONE, WABA, PHONE_EU, WABA2])
        # Its WABA was subscribed too.
        subs = sorted(node(q) for q in self.sb.requests("subscribed_apps"))
        self.assertIn(WABA2, subs)
        self.assertEqual(self.routes(), [(PHONE, "1"), (PHONE_EU, "1")])

    def test_webhooks_route_per_number(self):
        self.callback(self.b, "acme")
        add_number(self.b, "acme", PHONE)
        add_number(self.b, "acme", PHONE2)
        for p in (PHONE, PHONE2):
            self.sb.call("POST", "/_sandbox/webhook",
                         {"kind": "message", "phone_number_id": p})
        out = self.st.sql("SELECT phone_number_id, COUNT(*) FROM "
                          "webhook_events GROUP BY phone_number_id ORDER BY "
                          "phone_number_id", db="waba_ws_1").split()
        self.assertEqual(out, [PHONE, "1", PHONE2, "1"])

    def test_single_number_workspace_migrates(self):
        """A workspace database as the schema before version 5 made it:
        one number in the connection row, phone_numbers as v1 made it."""
        self.callback(self.b, "acme")
        add_number(self.b, "acme", PHONE)
        self.st.sql(
            "DELETE FROM phone_numbers; "
            "ALTER TABLE phone_numbers DROP INDEX default_one, "
            "DROP COLUMN default_one, DROP COLUMN is_default, "
            "DROP COLUMN state, DROP COLUMN state_detail, "
            "DROP COLUMN retry_after, DROP COLUMN code_verification_status, "
            "DROP COLUMN messaging_limit, DROP COLUMN coexistence, "
            "DROP COLUMN synced_state_at, DROP COLUMN synced_history_at, "
            "DROP COLUMN added_at; "
            "DELETE FROM schema_version WHERE version >= 5", db="waba_ws_1")
        self.assertIn("applied version 5", self.st.admin("migrate").stdout)
        self.assertEqual(self.numbers(), [(PHONE, "1", "active")])
        doc = self.status_json()
        self.assertEqual([(n["phone_number_id"], n["is_default"],
                           n["display_phone_number"])
                          for n in doc["phone_numbers"]],
                         [(PHONE, True, "+1 555 0100")])
        # It keeps working: the page lists it, another can be added.
        self.assertIn('id="number-%s"' % PHONE, self.b.get(S).text)
        add_number(self.b, "acme", PHONE2)
        self.assertEqual(self.default(), [PHONE, "connected"])
        # Running it again changes nothing.
        self.st.sql("DELETE FROM schema_version WHERE version >= 5",
                    db="waba_ws_1")
        self.st.admin("migrate")
        self.assertEqual(self.numbers(), [(PHONE, "1", "active"),
                                          (PHONE2, "0", "active")])


UNVERIFIED = "106540352242925"
NAME_PENDING = "106540352242926"
ELSEWHERE = "106540352242927"
WABA3 = "102290129340400"


class NumberStates(StackCase):
    """Item 2: numbers Meta has not confirmed, and every register refusal
    in the merchant's words."""
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme Ltd")
        cls.st.admin("user", "add", "acme", "alice@acme.example",
                     input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        r = self.b.get(self.sb.decide(start_connect(self.b, "acme"),
                                      scenario="all_states"))
        self.assertEqual(r.status, 303)
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "waba_id": WABA3})
        self.assertEqual(r.status, 303)

    def row(self, pid):
        out = self.st.sql("SELECT state, IFNULL(state_detail, ''), "
                          "IFNULL(retry_after, '') FROM phone_numbers WHERE "
                          "id = '%s'" % pid, db="waba_ws_1")
        return tuple(out.rstrip("\n").split("\t")) if out.strip() else None

    def registers(self, pid):
        return [q for q in self.sb.requests("register") if node(q) == pid]

    def test_unverified_number_gets_its_code_first(self):
        page = self.b.get(S + "/phone-numbers")
        self.assertIn('value="%s"' % UNVERIFIED, page.text)
        r = add_number(self.b, "acme", UNVERIFIED, pin=None)
        self.assertEqual(r.header("Location"), S + "?m=needs_code")
        self.assertEqual(self.row(UNVERIFIED)[0], "unverified")
        self.assertEqual(self.registers(UNVERIFIED), [])
        page = self.b.get(S + "?m=needs_code")
        self.assertIn('id="code-sms-%s"' % UNVERIFIED, page.text)
        self.assertIn("Needs its verification code", page.text)
        # A wrong method is refused with its name; nothing is sent.
        r = post_form(self.b, S + "/phone-numbers/%s/request-code" %
                      UNVERIFIED, {"code_method": "FAX"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.sb.requests("request_code"), [])
        r = post_form(self.b, S + "/phone-numbers/%s/request-code" %
                      UNVERIFIED, {"code_method": "SMS", "language": "en_US"})
        self.assertEqual(r.header("Location"), S + "?m=code_sent")
        self.assertIn("by SMS", self.row(UNVERIFIED)[1])
        code = self.sb.state()["numbers"][UNVERIFIED]["verification"]["code"]
        # A wrong code: Meta's refusal in plain words, still unverified.
        wrong = "000000" if code != "000000" else "111111"
        r = post_form(self.b, S + "/phone-numbers/%s/verify-code" %
                      UNVERIFIED, {"code": wrong, "pin": "123456"})
        self.assertEqual(r.status, 400)
        self.assertIn("does not match the last code sent", r.text)
        self.assertEqual(self.row(UNVERIFIED)[0], "unverified")
        r = post_form(self.b, S + "/phone-numbers/%s/verify-code" %
                      UNVERIFIED, {"code": code, "pin": "123456"})
        self.assertEqual(r.status, 303, r.text[:600])
        self.assertEqual(self.row(UNVERIFIED)[0], "active")
        self.assertEqual(len(self.registers(UNVERIFIED)), 1)
        self.assertEqual(self.st.sql("SELECT phone_number_id, status FROM "
                                     "connection", db="waba_ws_1").split(),
                         [UNVERIFIED, "connected"])
        # Done: no more code to send.
        r = post_form(self.b, S + "/phone-numbers/%s/request-code" %
                      UNVERIFIED, {"code_method": "VOICE"})
        self.assertEqual(r.status, 400)

    def test_display_name_in_review_waits(self):
        r = add_number(self.b, "acme", NAME_PENDING)
        self.assertEqual(r.header("Location"), S + "?m=pending_display_name")
        self.assertEqual(self.row(NAME_PENDING)[0], "pending_display_name")
        page = self.b.get(S)
        self.assertIn("Waiting for Meta to approve the display name",
                      page.text)
        self.assertEqual(self.st.sql("SELECT status FROM connection",
                                     db="waba_ws_1").strip(),
                         "pending_phone_selection")
        # The PIN is kept sealed, never as typed, only while it waits.
        pin = self.st.sql("SELECT HEX(pin_ct), pin_key_version FROM "
                          "phone_numbers", db="waba_ws_1").split()
        self.assertEqual(len(pin), 2)
        self.assertNotIn("123456".encode().hex().upper(), pin[0])
        # A key rotation re-encrypts it like the tokens, so the old key
        # can go while the number still waits.
        before = pin
        out = self.st.admin("keys", "rotate").stdout
        self.assertIn("re-encrypted 2 token(s)", out)
        pin = self.st.sql("SELECT HEX(pin_ct), pin_key_version FROM "
                          "phone_numbers", db="waba_ws_1").split()
        self.assertNotEqual(pin, before)
        self.assertEqual(pin[1], str(int(before[1]) + 1))
        self.st.admin("keys", "drop", before[1])
        # Verify while Meta still reviews: it stays waiting.
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.header("Location"), S + "?m=verified")
        self.assertEqual(self.row(NAME_PENDING)[0], "pending_display_name")
        # Not tried while Meta says the name is still in review.
        self.assertEqual(len(self.registers(NAME_PENDING)), 1)
        # Meta approves the name: Verify registers it with the kept PIN.
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": NAME_PENDING,
                      "name_status": "APPROVED"})
        r = post_form(self.b, S + "/verify", {})
        self.assertEqual(r.header("Location"), S + "?m=verified_registered")
        self.assertEqual(self.row(NAME_PENDING)[0], "active")
        self.assertEqual(len(self.registers(NAME_PENDING)), 2)
        self.assertEqual(self.st.sql("SELECT phone_number_id, status FROM "
                                     "connection", db="waba_ws_1").split(),
                         [NAME_PENDING, "connected"])
        self.assertEqual(self.st.sql("SELECT COUNT(*) FROM phone_numbers "
                                     "WHERE pin_ct IS NOT NULL",
                                     db="waba_ws_1").strip(), "0")

    def test_number_on_another_account_is_refused(self):
        r = add_number(self.b, "acme", ELSEWHERE, status=409)
        self.assertIn("still registered to another WhatsApp account", r.text)
        self.assertIsNone(self.row(ELSEWHERE))

    def test_pin_mismatch_then_a_new_pin(self):
        self.sb.config(pins={UNVERIFIED: "111111"})
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": UNVERIFIED,
                      "code_verification_status": "VERIFIED"})
        r = add_number(self.b, "acme", UNVERIFIED, status=400)
        self.assertIn("two-step verification PIN is not right", r.text)
        self.assertIn("set this as the number", r.text)
        self.assertIsNone(self.row(UNVERIFIED))
        page = self.b.get(S + "/phone-numbers")
        r = self.b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                               "phone_number_id": UNVERIFIED,
                                               "pin": "123456",
                                               "set_pin": "1"})
        self.assertEqual(r.status, 303, r.text[:600])
        self.assertEqual(self.row(UNVERIFIED)[0], "active")
        self.assertEqual([node(q) for q in self.sb.requests("set_pin")],
                         [UNVERIFIED])
        self.assertEqual(self.sb.state()["numbers"][UNVERIFIED]["pin"],
                         "123456")

    def test_register_limit_says_when(self):
        self.sb.call("POST", "/_sandbox/numbers/update",
                     {"phone_number_id": UNVERIFIED,
                      "code_verification_status": "VERIFIED"})
        self.sb.config(register_limit=0)
        r = add_number(self.b, "acme", UNVERIFIED)
        self.assertEqual(r.header("Location"), S + "?m=register_limit")
        state, detail, retry = self.row(UNVERIFIED)
        self.assertEqual(state, "register_failed")
        self.assertIn("72 hours", detail)
        self.assertTrue(retry, "a time to try again")
        delta = self.st.sql("SELECT TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(), "
                            "retry_after) FROM phone_numbers",
                            db="waba_ws_1").strip()
        self.assertIn(delta, ("71", "72"))
        self.assertIn("Try again after", self.b.get(S).text)


COEX = "106540352242928"
WABA4 = "102290129340401"


class Coexistence(StackCase):
    """Item 4: a number also on the WhatsApp Business app is not
    registered, syncs the app's contacts then its chats once each, and
    its webhooks (the syncs' and the app's echoes) are stored."""
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme Ltd")
        cls.st.admin("user", "add", "acme", "alice@acme.example",
                     input=PW + "\n")

    def setUp(self):
        self.sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        self.sb.reset()
        self.b = sign_in(self.port, "alice@acme.example", PW)
        self.assertEqual(post_form(self.b, S + "/disconnect", {}).status, 303)
        self.st.sql("DELETE FROM webhook_events", db="waba_ws_1")
        r = self.b.get(self.sb.decide(start_connect(self.b, "acme"),
                                      scenario="coexistence"))
        self.assertEqual(r.status, 303, r.text[:500])

    def sync(self, sync_type, pid=COEX):
        return post_form(self.b, S + "/phone-numbers/%s/sync" % pid,
                         {"sync_type": sync_type})

    def syncs(self):
        return [(node(q), q["body"].get("sync_type"))
                for q in self.sb.requests("smb_app_data")]

    def events(self, kind):
        out = self.st.sql("SELECT IFNULL(phone_number_id, ''), "
                          "IFNULL(status, ''), IFNULL(wa_from, ''), "
                          "IFNULL(body, '') FROM webhook_events WHERE kind "
                          "= '%s' ORDER BY id" % kind, db="waba_ws_1")
        return [tuple(l.split("\t")) for l in out.splitlines()]

    def wait_events(self, kind, n):
        """The sync's webhooks come from Meta a moment after its answer."""
        for _ in range(100):
            got = self.events(kind)
            if len(got) >= n:
                return got
            time.sleep(0.1)
        return self.events(kind)

    def test_coexistence_number_syncs_once(self):
        page = self.b.get(S + "/phone-numbers")
        self.assertIn("stays there, no PIN needed", page.text)
        # Added without a PIN, and never registered: it stays on the app.
        r = add_number(self.b, "acme", COEX, pin=None)
        self.assertEqual(r.header("Location"), S + "?m=connected_app")
        self.assertEqual(self.sb.requests("register"), [])
        self.assertEqual(self.st.sql(
            "SELECT state, coexistence, IFNULL(synced_state_at, '-') FROM "
            "phone_numbers", db="waba_ws_1").split(), ["active", "1", "-"])
        page = self.b.get(S)
        self.assertIn('id="coexistence-%s"' % COEX, page.text)
        self.assertIn("also on the WhatsApp Business app (sends up to 20 "
                      "messages a second)", page.text)
        self.assertIn('id="sync-contacts-%s"' % COEX, page.text)
        # Chats come after the contacts, which are not synced yet.
        self.assertNotIn('id="sync-history-%s"' % COEX, page.text)
        r = self.sync("history")
        self.assertEqual(r.status, 409)
        self.assertIn("Sync the contacts from the WhatsApp Business app "
                      "first", r.text)
        self.assertEqual(self.syncs(), [])
        doc = json.loads(self.st.admin("status", "acme", "--json").stdout)
        self.assertEqual([(n["phone_number_id"], n["coexistence"],
                           n["max_mps"]) for n in doc["phone_numbers"]],
                         [(COEX, True, 20)])

        # Contacts: one call, recorded, and Meta's webhook stored.
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 303, r.text[:800])
        self.assertEqual(r.header("Location"), S + "?m=sync_state")
        self.assertEqual(self.syncs(), [(COEX, "smb_app_state_sync")])
        self.assertEqual(self.sb.requests("smb_app_data")[0]["body"]
                         .get("messaging_product"), "whatsapp")
        got = self.wait_events("state_sync", 2)
        self.assertEqual(sorted(got), [
            (COEX, "add", "16505551234", "add contact: Sheena Nelson"),
            (COEX, "add", "447700900123", "add contact: Oliver Brown")])
        at = self.st.sql("SELECT synced_state_at FROM phone_numbers",
                         db="waba_ws_1").strip()
        self.assertRegex(at, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        page = self.b.get(S + "?m=sync_state")
        self.assertIn("Meta is sending the contacts", page.text)
        self.assertIn("Contacts synced on %s UTC" % at, page.text)
        self.assertNotIn('id="sync-contacts-%s"' % COEX, page.text)
        self.assertIn('id="sync-history-%s"' % COEX, page.text)

        # Again: refused from our record, Meta not asked a second time.
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 409)
        self.assertIn("The contacts sync from the WhatsApp Business app "
                      "already ran for this number on %s UTC" % at, r.text)
        self.assertIn("only once", r.text)
        self.assertEqual(len(self.syncs()), 1)

        # The chat history, then once only as well.
        r = self.sync("history")
        self.assertEqual(r.header("Location"), S + "?m=sync_history")
        got = self.wait_events("history", 3)
        self.assertEqual([b for (_, _, _, b) in got], [
            "phase %d, chunk 1, progress %d%%: 2 threads, 4 messages" %
            (ph, pr) for ph, pr in ((0, 33), (1, 67), (2, 100))])
        r = self.sync("history")
        self.assertEqual(r.status, 409)
        self.assertIn("chat history sync", r.text)
        self.assertEqual(self.syncs(), [(COEX, "smb_app_state_sync"),
                                        (COEX, "history")])
        page = self.b.get(S)
        self.assertIn('id="synced-history-%s"' % COEX, page.text)
        self.assertNotIn('id="sync-history-%s"' % COEX, page.text)
        audit = self.st.sql("SELECT detail FROM audit_log WHERE action = "
                            "'coexistence_sync' ORDER BY id",
                            db="waba_ws_1").split("\n")
        self.assertEqual(audit[:2], ["smb_app_state_sync for " + COEX,
                                     "history for " + COEX])

    def test_meta_refusal_records_the_sync(self):
        """The sync ran before we knew (another app, a lost answer): Meta
        refuses it, we record it, and ask Meta no more."""
        add_number(self.b, "acme", COEX, pin=None)
        self.sb.config(smb_sync_webhooks=False)
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 303)
        # As if it had run at Meta without our record of it.
        self.st.sql("UPDATE phone_numbers SET synced_state_at = NULL",
                    db="waba_ws_1")
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 409, r.text[:800])
        self.assertIn("already ran for this number on", r.text)
        self.assertEqual(len(self.syncs()), 2)
        self.assertNotEqual(self.st.sql(
            "SELECT IFNULL(synced_state_at, '') FROM phone_numbers",
            db="waba_ws_1").strip(), "")
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 409)
        self.assertEqual(len(self.syncs()), 2)

    def test_only_coexistence_numbers_sync(self):
        add_number(self.b, "acme", COEX, pin=None)
        self.st.sql("UPDATE phone_numbers SET coexistence = 0",
                    db="waba_ws_1")
        r = self.sync("smb_app_state_sync")
        self.assertEqual(r.status, 400)
        self.assertIn("Only a number that is also on the WhatsApp Business "
                      "app", r.text)
        # Not a number of this workspace; not a sync type.
        self.assertEqual(self.sync("smb_app_state_sync", PHONE).status, 404)
        r = self.sync("contacts")
        self.assertEqual(r.status, 400)
        self.assertIn("Choose what to sync", r.text)
        self.assertEqual(self.syncs(), [])

    def test_history_declined_and_echoes_stored(self):
        add_number(self.b, "acme", COEX, pin=None)
        # The business declined to share its chats (redelivered: once).
        self.sb.call("POST", "/_sandbox/webhook",
                     {"kind": "history", "phone_number_id": COEX,
                      "shared": False, "redeliver": True})
        got = self.events("history")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][3].startswith("error 2593109: History sync "
                                             "is turned off"), got)
        # A message the merchant sent from the app, delivered twice.
        self.sb.call("POST", "/_sandbox/webhook",
                     {"kind": "smb_message_echoes", "phone_number_id": COEX,
                      "to": "16505551234", "text": "See you at five",
                      "redeliver": True})
        got = self.events("echo")
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0][0], COEX)
        self.assertEqual(got[0][3], "to 16505551234: See you at five")
        mid = self.st.sql("SELECT message_id FROM webhook_events WHERE kind "
                          "= 'echo'", db="waba_ws_1").strip()
        self.assertTrue(mid.startswith("wamid."), mid)
        # Contacts removed in the app later on (redelivered: stored once).
        self.sb.call("POST", "/_sandbox/webhook",
                     {"kind": "smb_app_state_sync", "phone_number_id": COEX,
                      "action": "remove", "redeliver": True})
        self.assertEqual(sorted(s for (_, s, _, _) in
                                self.events("state_sync")),
                         ["remove", "remove"])
