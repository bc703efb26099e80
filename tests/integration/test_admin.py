"""waba-connect-admin against a real MariaDB (doc/contract.md: Admin
commands, Database layout)."""
import base64
import binascii
import collections
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.parse

from base import StackCase
from meta import Sandbox, csrf, post_form, settings_path, sign_in
from stack import binary

ADMIN = binary("waba-connect-admin")
STATUS_KEYS = ["workspace", "status", "reason", "waba_id", "phone_number_id",
               "display_phone_number", "phone_numbers", "token_expires_at",
               "catalog", "last_webhook_at", "webhook_events", "health",
               "sends", "push", "outbox"]
GOOD_PASSWORD = "correct horse battery staple"


def bad_utf8(b):
    """An argv entry holding raw bytes (subprocess encodes it back)."""
    return os.fsdecode(b)


class AdminCase(StackCase):
    workers = 1

    def admin(self, *args, **kw):
        kw.setdefault("check", False)
        return self.st.admin(*args, **kw)

    def ok(self, *args, **kw):
        r = self.admin(*args, **kw)
        self.assertEqual(r.returncode, 0, "admin %s: %s" % (args, r.stderr))
        return r

    def q(self, sql):
        return self.st.sql(sql).strip()

    def ws_id(self, slug):
        return int(self.q("SELECT id FROM waba_control.workspaces "
                          "WHERE slug = '%s'" % slug))

    def add_ws(self, slug, name=None):
        self.ok("workspace", "add", slug, name or slug.title())
        return self.ws_id(slug)

    def versions(self, ws):
        """Key versions of the rows holding a token in workspace ws."""
        db = "waba_ws_%d" % ws
        out = self.q("SELECT token_key_version FROM %s.connection WHERE "
                     "token_ct IS NOT NULL UNION ALL SELECT "
                     "token_key_version FROM %s.catalog" % (db, db))
        return sorted(int(x) for x in out.split())

    def set_token(self, slug, kind="waba", token=None, catalog_id=None):
        token = token or "EAAG" + secrets.token_urlsafe(48)
        args = ["token", "set", slug, kind]
        if catalog_id:
            args += ["--catalog-id", catalog_id]
        r = self.ok(*args, input=token + "\n")
        self.assertNotIn(token, r.stdout + r.stderr)
        return token


class AdminCommands(AdminCase):
    def test_migrate_twice_changes_nothing(self):
        self.add_ws("mig-ws")
        before = self.q("SELECT version, applied_at FROM "
                        "waba_control.schema_version")
        ws_before = self.q("SELECT COUNT(*) FROM waba_ws_%d.schema_version"
                           % self.ws_id("mig-ws"))
        r = self.ok("migrate")
        lines = r.stdout.splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertIn("up to date", line)
        self.assertTrue(any("mig-ws" in line for line in lines))
        self.ok("migrate")
        self.assertEqual(before, self.q("SELECT version, applied_at FROM "
                                        "waba_control.schema_version"))
        self.assertEqual(ws_before, self.q(
            "SELECT COUNT(*) FROM waba_ws_%d.schema_version"
            % self.ws_id("mig-ws")))

    def test_migration_keeps_restrictions_and_token_time(self):
        # A database on the schema before restrictions were kept apart
        # (issue 8): a token, and a restriction only in the reason.
        self.add_ws("mig-old")
        db = "waba_ws_%d" % self.ws_id("mig-old")
        self.set_token("mig-old")
        reason = ("Meta restricted the WhatsApp Business Account: "
                  "RESTRICTED_BIZ_INITIATED_MESSAGING")
        self.q("ALTER TABLE %s.connection DROP COLUMN token_stored_at, "
               "DROP COLUMN restriction, DROP COLUMN restriction_event, "
               "DROP COLUMN restriction_waba, DROP COLUMN restriction_at, "
               "DROP COLUMN restriction_until" % db)
        # Back to version 3: v4 made those columns, and v5 (numbers),
        # newer, must not be the only one migrate applies again.
        self.q("DELETE FROM %s.schema_version WHERE version >= 4" % db)
        self.q("UPDATE %s.connection SET status = 'needs_reconnect', "
               "reason = '%s', waba_id = '123', connected_at = "
               "'2026-01-02 03:04:05'" % (db, reason))
        self.assertIn("applied version", self.ok("migrate").stdout)
        self.assertEqual(self.q(
            "SELECT token_stored_at, restriction, restriction_event, "
            "restriction_waba FROM %s.connection" % db).split("\t"),
            ["2026-01-02 03:04:05", reason, "ACCOUNT_RESTRICTION", "123"])

    def test_control_migration_3_backfills_grants_from_routes(self):
        # Before control version 3 a WABA route was the only record of a
        # grant: the upgrade keeps each as a grant of its workspace.
        ws = self.add_ws("mig-grants")
        self.q("DROP TABLE waba_control.webhook_grants; "
               "DELETE FROM waba_control.schema_version WHERE version >= 3; "
               "INSERT INTO waba_control.webhook_routes (kind, external_id, "
               "workspace_id) VALUES ('waba', '8800771', %d), "
               "('phone', '8800772', %d)" % (ws, ws))
        self.assertIn("applied version 3", self.ok("migrate").stdout)
        self.assertEqual(self.q(
            "SELECT waba_id, workspace_id FROM waba_control.webhook_grants "
            "WHERE workspace_id = %d" % ws).split("\t"),
            ["8800771", str(ws)])
        self.q("DELETE FROM waba_control.webhook_routes WHERE "
               "external_id IN ('8800771', '8800772'); DELETE FROM "
               "waba_control.webhook_grants WHERE workspace_id = %d" % ws)

    def test_workspace_add_creates_a_database_each(self):
        r = self.ok("workspace", "add", "alpha", "Alpha Ltd")
        a = self.ws_id("alpha")
        self.assertIn('created workspace alpha "Alpha Ltd" (id %d, '
                      'database waba_ws_%d)' % (a, a), r.stdout)
        self.ok("workspace", "add", "beta-2", "Bêta & Söhne \"GmbH\"")
        b = self.ws_id("beta-2")
        dbs = self.q("SHOW DATABASES").split()
        self.assertIn("waba_ws_%d" % a, dbs)
        self.assertIn("waba_ws_%d" % b, dbs)
        self.assertNotEqual(a, b)
        self.assertEqual(self.q("SELECT status FROM waba_ws_%d.connection"
                                % b), "not_connected")

        listed = json.loads(self.ok("workspace", "list", "--json").stdout)
        by_slug = {w["slug"]: w for w in listed}
        self.assertEqual(by_slug["alpha"], {"id": a, "slug": "alpha",
                                            "name": "Alpha Ltd",
                                            "database": "waba_ws_%d" % a,
                                            "server": None})
        self.assertEqual(by_slug["beta-2"]["name"], "Bêta & Söhne \"GmbH\"")
        table = self.ok("workspace", "list").stdout
        self.assertIn("alpha", table.split())
        self.assertIn("waba_ws_%d" % b, table.split())

    def test_duplicate_slug_is_refused(self):
        self.add_ws("dup")
        r = self.admin("workspace", "add", "dup", "Another")
        self.assertEqual(r.returncode, 1)
        self.assertIn("workspace dup already exists", r.stderr)
        self.assertTrue(r.stderr.startswith("waba-connect-admin: "))
        self.assertEqual(self.q("SELECT COUNT(*) FROM waba_control.workspaces "
                                "WHERE slug = 'dup'"), "1")

    def test_bad_slug_or_name_creates_nothing(self):
        count = self.q("SELECT COUNT(*) FROM waba_control.workspaces")
        dbs = self.q("SHOW DATABASES")
        for slug, name in [("Upper", "x"), ("under_score", "x"),
                           ("", "x"), ("a" * 64, "x"), ("sp ace", "x"),
                           ("../x", "x"), ("ok-slug", ""),
                           ("ok-slug", "n" * 201), ("ok-slug", "tab\there"),
                           ("ok-slug", "new\nline"), ("ok-slug", "del\x7f"),
                           ("ok-slug", "c1\u0085x"), ("ok-slug", "   "),
                           ("ok-slug", bad_utf8(b"bad \xff utf8"))]:
            r = self.admin("workspace", "add", slug, name)
            self.assertIn(r.returncode, (1, 2), (slug, name))
            self.assertTrue(r.stderr.startswith("waba-connect-admin: ") or
                            r.stderr.startswith("usage:"), r.stderr)
        self.assertEqual(count, self.q("SELECT COUNT(*) FROM "
                                       "waba_control.workspaces"))
        self.assertEqual(dbs, self.q("SHOW DATABASES"))
        # 200 bytes of UTF-8 is the limit, not 200 characters.
        self.assertEqual(self.admin("workspace", "add", "long-name",
                                    "é" * 101).returncode, 1)
        self.ok("workspace", "add", "long-name", "é" * 100)

    def test_user_add(self):
        a = self.add_ws("users-a")
        b = self.add_ws("users-b")
        email = "Merchant@Example.COM"
        for pw in ("short", "elevenchars", "", "x" * 1025):
            r = self.admin("user", "add", "users-a", email, input=pw + "\n")
            self.assertEqual(r.returncode, 1, pw)
            self.assertTrue(r.stderr.startswith("waba-connect-admin: "))
        self.assertEqual(self.q("SELECT COUNT(*) FROM waba_control.users"),
                         "0")

        r = self.ok("user", "add", "users-a", email,
                    input=GOOD_PASSWORD + "\nsecond line\n")
        self.assertNotIn(GOOD_PASSWORD, r.stdout + r.stderr)
        row = self.q("SELECT id, email, password_hash FROM waba_control.users")
        uid, stored, hashed = row.split("\t")
        self.assertEqual(stored, "merchant@example.com")
        self.assertTrue(hashed.startswith("$argon2id$"), hashed)
        self.assertNotIn(GOOD_PASSWORD, hashed)

        # Existing user: only the membership; stdin is not read as a password
        # (this one would be refused as too short).
        r = self.ok("user", "add", "users-b", "merchant@example.com",
                    input="short\n")
        self.assertIn("password unchanged", r.stdout)
        self.assertEqual(self.q("SELECT password_hash FROM waba_control.users"),
                         hashed)
        self.assertEqual(self.q(
            "SELECT GROUP_CONCAT(workspace_id ORDER BY workspace_id) FROM "
            "waba_control.memberships WHERE user_id = %s" % uid),
            "%d,%d" % (a, b))

        # 1024 bytes is the longest password; 12 the shortest.
        self.ok("user", "add", "users-a", "long@example.com",
                input="p" * 1024 + "\n")
        self.ok("user", "add", "users-a", "twelve@example.com",
                input="p" * 12 + "\n")
        for bad in ("no-at", "two@@example.com", "@example.com", "x@",
                    "sp ace@example.com", "a@b" + "c" * 252):
            r = self.admin("user", "add", "users-a", bad,
                           input=GOOD_PASSWORD + "\n")
            self.assertEqual(r.returncode, 1, bad)
        r = self.admin("user", "add", "no-such-ws", "x@example.com",
                       input=GOOD_PASSWORD + "\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no workspace no-such-ws", r.stderr)
        self.assertEqual(self.q("SELECT COUNT(*) FROM waba_control.users"),
                         "3")

    def test_password_minimum_counts_characters(self):
        self.add_ws("pw-chars")
        # 11 characters but 22 bytes: too short, whatever the byte count.
        for pw in ("é" * 11, "päßwörd-äö"):
            r = self.admin("user", "add", "pw-chars", "short@example.com",
                           input=pw + "\n")
            self.assertEqual(r.returncode, 1, pw)
            self.assertIn("too short", r.stderr)
            self.assertIn("at least 12 characters", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = subprocess.run([ADMIN, "--config", self.st.config_path, "user",
                            "add", "pw-chars", "bytes@example.com"],
                           input=b"\xff\xfe" * 8 + b"\n",
                           capture_output=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"not valid UTF-8", r.stderr)
        self.assertEqual(self.q("SELECT COUNT(*) FROM waba_control.users"),
                         "0")
        # 12 characters in 18 bytes: accepted, and it signs in on the form.
        pw = "päßwörd-äöü!"
        self.assertEqual((len(pw), len(pw.encode())), (12, 18))
        # The class shares one database: leave the users table as found.
        who = "(SELECT id FROM users WHERE email = 'multi@example.com')"
        self.addCleanup(self.st.sql, "DELETE FROM sessions WHERE user_id IN "
                        "%s; DELETE FROM memberships WHERE user_id IN %s; "
                        "DELETE FROM users WHERE email = 'multi@example.com'"
                        % (who, who), db="waba_control")
        self.ok("user", "add", "pw-chars", "multi@example.com",
                input=pw + "\n")
        sign_in(self.port, "multi@example.com", pw)
        help_text = subprocess.run([ADMIN, "--help"], capture_output=True,
                                   text=True).stdout
        self.assertIn("12+ characters", help_text)

    def test_app_refuses_a_key_ring_others_can_read(self):
        ring = self.st.path("keyring-0644")
        with open(self.st.path("keyring")) as src, open(ring, "w") as dst:
            dst.write(src.read())
        os.chmod(ring, 0o644)
        conf = self.st.path("ring-0644.conf")
        with open(self.st.config_path) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace(self.st.path("keyring"), ring))
        os.chmod(conf, 0o600)
        app = binary("waba-connect")
        sock = self.st.path("ring-0644.sock")
        for extra in (["--listen", "unix:" + sock, "--workers", "1"],
                      ["--check"]):
            r = subprocess.run([app, "--config", conf] + extra,
                               capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            self.assertNotEqual(r.returncode, 0, extra)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(ring, lines[0])
            self.assertIn("0644", lines[0])
            self.assertIn("must be 0600", lines[0])
            self.assertFalse(os.path.exists(sock))

    def test_status_json_shape(self):
        ws = self.add_ws("stat")
        r = self.ok("status", "stat", "--json")
        self.assertEqual(len(r.stdout.strip().splitlines()), 1)
        doc = json.loads(r.stdout,
                         object_pairs_hook=collections.OrderedDict)
        self.assertEqual(list(doc.keys()), STATUS_KEYS)
        self.assertEqual(doc["workspace"], "stat")
        self.assertEqual(doc["status"], "not_connected")
        self.assertIsNone(doc["push"])  # no [events] push_url here
        for k in ("reason", "waba_id", "phone_number_id",
                  "display_phone_number", "token_expires_at",
                  "last_webhook_at"):
            self.assertIsNone(doc[k], k)
        self.assertEqual(list(doc["catalog"].items()),
                         [("catalog_id", None), ("status", "not_connected"),
                          ("reason", None)])
        self.assertEqual(doc["webhook_events"], 0)
        # Never checked by the monitor: every value null, no warning.
        self.assertEqual(doc["health"], {
            "checked_at": None, "can_send_message": None,
            "messaging_limit": None, "quality_rating": None,
            "name_status": None, "webhook_ok": None,
            "subscription_ok": None, "warnings": [], "last_error": None})
        self.assertEqual(doc["phone_numbers"], [])

        # Webhook counts are real: one event today, one two days ago.
        db = "waba_ws_%d" % ws
        self.st.sql(
            "INSERT INTO %s.webhook_events (dedup_key, kind, received_at) "
            "VALUES ('a', 'message', UTC_TIMESTAMP() - INTERVAL 2 DAY), "
            "('b', 'message', '2030-01-02 03:04:05'); "
            "UPDATE %s.connection SET token_expires_at = "
            "'2031-05-06 07:08:09', waba_id = '1029384756'; "
            # Counted from the hourly counters: rebuild them the way an
            # upgrade to workspace version 3 does (and 4 after it, rerun).
            "DELETE FROM %s.schema_version WHERE version >= 3" % (db, db, db))
        self.ok("migrate")
        doc = json.loads(self.ok("status", "stat", "--json").stdout)
        self.assertEqual(doc["last_webhook_at"], "2030-01-02T03:04:05Z")
        self.assertEqual(doc["webhook_events"], 1)
        self.assertEqual(doc["token_expires_at"], "2031-05-06T07:08:09Z")
        self.assertEqual(doc["waba_id"], "1029384756")

        text = self.ok("status", "stat").stdout
        self.assertIn("not_connected", text)
        self.assertIn("1029384756", text)

    def test_status_unknown_workspace(self):
        r = self.admin("status", "nobody-here", "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.strip(),
                         "waba-connect-admin: no workspace nobody-here")

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], [], ["workspace"], ["workspace", "nuke"],
                     ["workspace", "add", "only-slug"],
                     ["status"], ["status", "a", "b"],
                     ["status", "a", "--yaml"], ["keys", "drop"],
                     ["token", "set", "x", "waba", "--catalog-id", "1"],
                     ["token", "set", "x", "catalog"],
                     ["token", "set", "x", "other"]):
            r = self.admin(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr + r.stdout, args)
        r = subprocess.run([ADMIN, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for word in ("migrate", "workspace add", "user add", "keys add",
                     "keys rotate", "keys rekey", "keys drop", "status",
                     "token set"):
            self.assertIn(word, r.stdout)
        r = subprocess.run([ADMIN, "--version"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("waba-connect-admin "))

    def test_unreachable_database_and_unmigrated_control_db(self):
        conf = open(self.st.config_path).read()
        path = self.st.path("broken.conf")
        for old, new, want in [
                (self.st.db_socket, self.st.path("no-such.sock"),
                 "cannot reach the database"),
                ("control_db = waba_control", "control_db = waba_fresh",
                 "run `waba-connect-admin migrate` first")]:
            with open(path, "w") as f:
                f.write(conf.replace(old, new))
            os.chmod(path, 0o600)
            r = subprocess.run([ADMIN, "--config", path, "workspace", "add",
                                "never", "Never"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn(want, r.stderr)
        self.assertEqual(self.q("SELECT COUNT(*) FROM waba_control.workspaces"
                                " WHERE slug = 'never'"), "0")

    def test_token_set_never_stores_plaintext(self):
        ws = self.add_ws("tok")
        token = self.set_token("tok")
        catalog = self.set_token("tok", "catalog", catalog_id="5550123")
        doc = json.loads(self.ok("status", "tok", "--json").stdout)
        self.assertEqual(doc["status"], "pending_phone_selection")
        self.assertEqual(doc["catalog"], {"catalog_id": "5550123",
                                          "status": "connected", "reason": None})
        self.assertEqual(self.versions(ws), [1, 1])
        self.assertEqual(self.q("SELECT actor FROM waba_ws_%d.audit_log "
                                "LIMIT 1" % ws), "admin")

        for bad, why in [("", "empty"), ("has space", "space"),
                         ("x" * 4097, "too long"), ("tab\tx", "control")]:
            r = self.admin("token", "set", "tok", "waba", input=bad + "\n")
            self.assertEqual(r.returncode, 1, why)
        r = self.admin("token", "set", "tok", "catalog", "--catalog-id",
                       "12ab", input="abc\n")
        self.assertEqual(r.returncode, 1)

        ct = self.q("SELECT HEX(token_ct) FROM waba_ws_%d.connection" % ws)
        self.assertGreater(len(ct), 2 * len(token))
        for extra in ([], ["--hex-blob"]):
            dump = subprocess.run(
                ["mariadb-dump", "--no-defaults", "-uroot",
                 "--socket=" + self.st.db_socket, "--all-databases"] + extra,
                capture_output=True, check=True).stdout
            if extra:   # the dump does hold the rows, encrypted
                self.assertIn(b"0x" + ct.encode(), dump)
            for secret in (token, catalog):
                raw = secret.encode()
                for form in (raw, base64.b64encode(raw),
                             base64.urlsafe_b64encode(raw),
                             binascii.hexlify(raw),
                             binascii.hexlify(raw).upper()):
                    self.assertNotIn(form, dump)
                    self.assertNotIn(form[:24], dump)


class KeyRotation(AdminCase):
    @classmethod
    def setUpStack(cls):
        for slug in ("rot-a", "rot-b", "rot-empty"):
            cls.st.admin("workspace", "add", slug, slug)
        for slug in ("rot-a", "rot-b"):
            cls.st.admin("token", "set", slug, "waba",
                         input="EAAG" + secrets.token_urlsafe(40) + "\n")
        cls.st.admin("token", "set", "rot-a", "catalog", "--catalog-id",
                     "42", input="EAAC" + secrets.token_urlsafe(40) + "\n")

    def keys(self):
        return self.ok("keys", "list").stdout.split("\n")[:-1]

    def test_rotate_rekey_drop(self):
        a, b = self.ws_id("rot-a"), self.ws_id("rot-b")
        self.assertEqual(self.keys(), ["1 (current)"])
        self.assertEqual(self.versions(a), [1, 1])
        self.assertEqual(self.versions(b), [1])
        r = self.admin("keys", "drop", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("current", r.stderr)

        r = self.ok("keys", "rotate")
        self.assertIn("keys rekey", r.stdout)
        self.assertIn("workspace rot-a (id %d): re-encrypted 2" % a, r.stdout)
        self.assertIn("workspace rot-b (id %d): re-encrypted 1" % b, r.stdout)
        self.assertIn("re-encrypted 3 token(s) in 3 workspace(s)", r.stdout)
        self.assertEqual(self.keys(), ["1", "2 (current)"])
        self.assertEqual(self.versions(a), [2, 2])
        self.assertEqual(self.versions(b), [2])
        for slug in ("rot-a", "rot-b"):
            doc = json.loads(self.ok("status", slug, "--json").stdout)
            self.assertEqual(doc["status"], "pending_phone_selection")
        self.assertEqual(json.loads(self.ok("status", "rot-a", "--json")
                                    .stdout)["catalog"]["status"],
                         "connected")

        r = self.admin("keys", "drop", "2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("current", r.stderr)
        self.ok("keys", "drop", "1")
        self.assertEqual(self.keys(), ["2 (current)"])
        r = self.admin("keys", "drop", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not in the key ring", r.stderr)
        self.assertEqual(self.admin("keys", "drop", "0").returncode, 1)
        self.assertEqual(self.admin("keys", "drop", "x1").returncode, 1)

        # An interrupted rotation: a key was added, nothing re-encrypted.
        with open(self.st.path("keyring"), "a") as f:
            f.write("3 %s\n" % base64.b64encode(os.urandom(32)).decode())
        r = self.admin("keys", "drop", "2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("still encrypts tokens of workspace rot-a", r.stderr)
        # rekey decrypts with key 2: proof that the tokens survived drop 1.
        r = self.ok("keys", "rekey")
        self.assertIn("re-encrypted 3 token(s)", r.stdout)
        self.assertEqual(self.versions(a), [3, 3])
        self.assertEqual(self.versions(b), [3])
        self.assertEqual(self.keys(), ["2", "3 (current)"])
        r = self.ok("keys", "rekey")
        self.assertIn("re-encrypted 0 token(s)", r.stdout)
        self.ok("keys", "drop", "2")
        self.assertEqual(self.admin("keys", "init").returncode, 1)
        self.assertEqual(self.keys(), ["3 (current)"])


class KeyAdd(AdminCase):
    """keys add: the first half of a rotation, for rings copied to several
    hosts: the key is added, no token moves to it until keys rekey."""

    @classmethod
    def setUpStack(cls):
        for slug in ("add-a", "add-b"):
            cls.st.admin("workspace", "add", slug, slug)
            cls.st.admin("token", "set", slug, "waba",
                         input="EAAG" + secrets.token_urlsafe(40) + "\n")

    def keys(self):
        return self.ok("keys", "list").stdout.split("\n")[:-1]

    def test_add_rekey_drop(self):
        a, b = self.ws_id("add-a"), self.ws_id("add-b")
        ring = self.st.path("keyring")
        # Another host's copy, taken before the key is added.
        old = self.st.path("keyring-before-add")
        shutil.copyfile(ring, old)
        os.chmod(old, 0o600)

        r = self.ok("keys", "add")
        self.assertIn("added key version 2 to %s; no token was "
                      "re-encrypted" % ring, r.stdout)
        self.assertIn("keys rekey", r.stdout)
        self.assertEqual(self.keys(), ["1", "2 (current)"])
        self.assertEqual(self.versions(a), [1])
        self.assertEqual(self.versions(b), [1])
        # A second add before the rekey would pile keys up: refused.
        r = self.admin("keys", "add")
        self.assertEqual(r.returncode, 1)
        self.assertIn("still on key version 1", r.stderr)
        self.assertIn("keys rekey` first; no key was added", r.stderr)
        self.assertEqual(self.keys(), ["1", "2 (current)"])
        with open(old) as f:
            self.assertNotIn("\n2 ", f.read())

        r = self.ok("keys", "rekey")
        self.assertIn("re-encrypted 2 token(s) in 2 workspace(s); every "
                      "token is on key version 2", r.stdout)
        self.assertEqual(self.versions(a), [2])
        self.assertEqual(self.versions(b), [2])
        self.ok("keys", "drop", "1")
        self.assertEqual(self.keys(), ["2 (current)"])

        # The copy from before: its newest key is older than the tokens'.
        conf = self.st.path("old-ring.conf")
        with open(self.st.config_path) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace(ring, old))
        os.chmod(conf, 0o600)
        r = subprocess.run([ADMIN, "--config", conf,
                           "keys", "add"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("newer than the newest key in %s" % old, r.stderr)
        self.assertIn("nothing was changed", r.stderr)
        with open(old) as f:
            self.assertNotIn("\n2 ", f.read())

        # keys rotate finishes what keys add started, adding nothing.
        self.ok("keys", "add")
        r = self.ok("keys", "rotate")
        self.assertIn("finishing the rotation to version 3", r.stdout)
        self.assertNotIn("added key", r.stdout)
        self.assertEqual(self.keys(), ["2", "3 (current)"])
        self.assertEqual(self.versions(a), [3])


class CopiedToken(AdminCase):
    @classmethod
    def setUpStack(cls):
        for slug in ("copy-a", "copy-b"):
            cls.st.admin("workspace", "add", slug, slug)
            cls.st.admin("token", "set", slug, "waba",
                         input="EAAG" + secrets.token_urlsafe(40) + "\n")

    def test_token_moved_between_workspaces_is_refused(self):
        a, b = self.ws_id("copy-a"), self.ws_id("copy-b")
        self.st.sql(
            "UPDATE waba_ws_%d.connection dst JOIN waba_ws_%d.connection src "
            "ON src.id = 1 SET dst.token_key_version = src.token_key_version,"
            " dst.token_nonce = src.token_nonce, dst.token_ct = src.token_ct "
            "WHERE dst.id = 1" % (b, a))
        for args in (("keys", "rotate"), ("keys", "rekey")):
            r = self.admin(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertRegex(r.stderr, r"workspace copy-b \(id %d\)" % b)
            self.assertIn("workspace %d: waba token does not decrypt" % b,
                          r.stderr)
            self.assertNotRegex(r.stderr, r"workspace copy-a")
        # A's rotation went through; B's row is untouched, so key 1 stays.
        self.assertEqual(self.versions(a), [2])
        self.assertEqual(self.versions(b), [1])
        r = self.admin("keys", "drop", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("copy-b", r.stderr)
        self.assertTrue(re.search(r"2 \(current\)",
                                  self.ok("keys", "list").stdout))


def query_param(req, name):
    """A parameter the sandbox saw, whether it logged a dict or a string."""
    q = req.get("query") or {}
    if isinstance(q, str):
        q = dict(urllib.parse.parse_qsl(q))
    v = q.get(name)
    return v[0] if isinstance(v, list) else v


class InterruptedRotation(AdminCase):
    """A rotation that stops half way is finished by running it again."""
    sandbox = True
    PW = "interrupted rotation pw"

    @classmethod
    def setUpStack(cls):
        cls.tokens = {}
        for slug in ("int-a", "int-b"):
            cls.st.admin("workspace", "add", slug, slug)
            cls.st.admin("user", "add", slug, "ops@%s.example" % slug,
                         input=cls.PW + "\n")
            tok = "EAAG" + secrets.token_urlsafe(40)
            cls.st.admin("token", "set", slug, "waba", input=tok + "\n")
            cls.tokens[slug] = tok
        cls.st.admin("token", "set", "int-b", "catalog", "--catalog-id",
                     "77", input="EAAC" + secrets.token_urlsafe(40) + "\n")

    def keys(self):
        return self.ok("keys", "list").stdout.split("\n")[:-1]

    def box(self, ws):
        return self.q("SELECT token_key_version, HEX(token_nonce), "
                      "HEX(token_ct) FROM waba_ws_%d.connection" % ws)

    def assert_decrypts(self, slug):
        """The app decrypts the stored token: Meta gets the very token."""
        sb = Sandbox(self.st.sandbox_port, self.st.app_secret)
        b = sign_in(self.port, "ops@%s.example" % slug, self.PW)
        r = post_form(b, settings_path(slug) + "/verify", {})
        self.assertEqual(r.status, 303, r.text[:500])
        seen = [query_param(q, "input_token")
                for q in sb.requests("debug_token")]
        self.assertIn(self.tokens[slug], seen)

    def test_rerun_finishes_without_adding_a_key(self):
        a, b = self.ws_id("int-a"), self.ws_id("int-b")
        good_b = self.box(b).split("\t")
        self.assertEqual(good_b[0], "1")
        # B's waba row now holds A's box: it cannot decrypt there, so the
        # rotation stops at B after A is done (deterministically).
        self.st.sql(
            "UPDATE waba_ws_%d.connection dst JOIN waba_ws_%d.connection src "
            "ON src.id = 1 SET dst.token_nonce = src.token_nonce, "
            "dst.token_ct = src.token_ct WHERE dst.id = 1" % (b, a))
        r = self.admin("keys", "rotate")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("added key version 2", r.stdout)
        self.assertIn("workspace int-b (id %d): tokens not re-encrypted" % b,
                      r.stderr)
        self.assertIn("keys rotate` again", r.stderr)
        self.assertEqual(self.keys(), ["1", "2 (current)"])
        self.assertEqual(self.versions(a), [2])
        self.assertEqual(self.versions(b), [1, 1])   # one transaction
        r = self.admin("keys", "drop", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("int-b", r.stderr)

        # Running it again while B is still broken adds nothing either.
        r = self.admin("keys", "rotate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("finishing the rotation to version 2", r.stdout)
        self.assertEqual(self.keys(), ["1", "2 (current)"])

        # Fixed (the operator restores B's row), then re-run: finished.
        self.st.sql("UPDATE waba_ws_%d.connection SET token_nonce = "
                    "UNHEX('%s'), token_ct = UNHEX('%s') WHERE id = 1"
                    % (b, good_b[1], good_b[2]))
        r = self.ok("keys", "rotate")
        self.assertIn("finishing the rotation to version 2 (no key added; "
                      "a new key is added once every token is on version "
                      "2: a workspace that fails below must be fixed or "
                      "disconnected first)", r.stdout)
        self.assertNotIn("added key", r.stdout)
        self.assertIn("workspace int-a (id %d): re-encrypted 0" % a, r.stdout)
        self.assertIn("workspace int-b (id %d): re-encrypted 2" % b, r.stdout)
        self.assertIn("every token is on key version 2", r.stdout)
        self.assertEqual(self.keys(), ["1", "2 (current)"])
        self.assertEqual(self.versions(a), [2])
        self.assertEqual(self.versions(b), [2, 2])
        self.ok("keys", "drop", "1")
        for slug in ("int-a", "int-b"):
            self.assert_decrypts(slug)

        # Nothing unfinished: the next rotation adds exactly one key.
        r = self.ok("keys", "rotate")
        self.assertIn("added key version 3", r.stdout)
        self.assertNotIn("finishing", r.stdout)
        self.assertEqual(self.keys(), ["2", "3 (current)"])
        self.assertEqual(self.versions(a), [3])
        self.assertEqual(self.versions(b), [3, 3])
        self.assert_decrypts("int-b")


class DamagedToken(AdminCase):
    """A token row with no usable nonce is that workspace's problem, said
    with its name: not a database outage (503)."""
    PW = "damaged token password"

    @classmethod
    def setUpStack(cls):
        for slug in ("dmg-a", "dmg-b"):
            cls.st.admin("workspace", "add", slug, slug)
            cls.st.admin("token", "set", slug, "waba",
                         input="EAAG" + secrets.token_urlsafe(40) + "\n")
        cls.st.admin("user", "add", "dmg-b", "ops@dmg-b.example",
                     input=cls.PW + "\n")

    def test_damaged_row_names_the_workspace(self):
        a, b = self.ws_id("dmg-a"), self.ws_id("dmg-b")
        b_db = "waba_ws_%d" % b
        stored_damaged = "waba token is stored damaged"
        for damage, why in (("token_nonce = NULL", stored_damaged),
                            ("token_key_version = NULL", stored_damaged),
                            ("token_nonce = UNHEX(REPEAT('00', 24)), "
                             "token_key_version = 1, token_ct = UNHEX('00ff')",
                             "waba token is truncated (2 bytes)")):
            with self.subTest(damage=damage):
                self.st.sql("UPDATE %s.connection SET %s WHERE id = 1"
                            % (b_db, damage))
                br = sign_in(self.port, "ops@dmg-b.example", self.PW)
                r = post_form(br, settings_path("dmg-b") + "/verify", {})
                self.assertEqual(r.status, 500, r.text[:500])
                self.assertIn("could not be decrypted", r.text)
                self.assertIn("reconnect", r.text.lower())
                self.assertNotIn("database is not answering", r.text)
                with open(self.st.path("pool.log"), errors="replace") as f:
                    log = f.read()
                self.assertIn("workspace %d: %s" % (b, why), log)

                r = self.admin("keys", "rotate")
                self.assertEqual(r.returncode, 1)
                self.assertIn("workspace dmg-b (id %d): tokens not "
                              "re-encrypted: workspace %d: %s" % (b, b, why),
                              r.stderr)
                self.assertNotIn("database error", r.stderr)
                self.assertNotIn("dmg-a", r.stderr)
        # The healthy workspace went through each time; B kept its row.
        self.assertEqual(self.versions(a),
                         [int(self.ok("keys", "list").stdout.split()[-2])])
