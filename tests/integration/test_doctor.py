"""Issue 15: `waba-connect-admin doctor` against the real stack (two
MariaDB servers, the pool behind lighttpd, the Meta sandbox): one line
per check, exit 0 when all pass; and one failure of each kind the stack
can make: the key ring's mode, a database server down, a database not
migrated, Meta (the sandbox) down, Meta's certificate not trusted by
ca_file, the webhook handshake refused, a workspace not subscribed. No
line holds a secret."""
import os
import re
import subprocess

from base import StackCase
from stack import binary
from meta import PHONE, Sandbox, csrf, settings_path, sign_in, start_connect

PW = "doctor test password"
SLUG = "acme"
S = settings_path(SLUG)


def lines(out):
    """{check: (verdict, text)} of doctor's lines."""
    got = {}
    for line in out.splitlines():
        m = re.match(r"^(ok  |warn|FAIL) ([^:]+): (.*)$", line)
        if m:
            got.setdefault(m.group(2), (m.group(1).strip(), m.group(3)))
    return got


class DoctorMixin:
    def doctor(self, config=None):
        if config is None:
            r = self.st.admin("doctor", check=False)
        else:
            r = subprocess.run([binary("waba-connect-admin"), "--config",
                                config, "doctor"], capture_output=True,
                               text=True)
        for secret in (self.st.app_secret, self.st.verify_token,
                       self.st.db_password):
            self.assertNotIn(secret, r.stdout + r.stderr)
        return r, lines(r.stdout)

    def other_config(self, name, **replace):
        """A copy of the stack's config with some lines replaced
        (key: new line, or None to drop it)."""
        with open(self.st.config_path) as f:
            text = f.read().splitlines()
        out = []
        for l in text:
            key = l.split("=", 1)[0].strip()
            if key in replace:
                if replace[key] is not None:
                    out.append(replace[key])
            else:
                out.append(l)
        path = self.st.path(name)
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        os.chmod(path, 0o640)
        return path


class Doctor(DoctorMixin, StackCase):
    workers = 2
    sandbox = True

    @classmethod
    def setUpStack(cls):
        st = cls.st
        cls.sock2 = st.start_mariadb("mariadb2")
        st.admin("workspace", "add", SLUG, "Acme Ltd")
        st.admin("workspace", "add", "remote", "Remote Shop",
                 "--db-socket", cls.sock2)
        st.admin("user", "add", SLUG, "alice@acme.example", input=PW + "\n")

    @classmethod
    def connected(cls):
        if getattr(cls, "_connected", False):
            return
        b = sign_in(cls.st.port, "alice@acme.example", PW)
        sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        r = b.get(sb.decide(start_connect(b, SLUG)))
        assert r.status == 303, r.text[:500]
        page = b.get(S + "/phone-numbers")
        r = b.post(S + "/phone-numbers", {"csrf_token": csrf(page),
                                          "phone_number_id": PHONE,
                                          "pin": "123456"})
        assert r.header("Location") == S + "?m=connected", r.status
        cls.st.admin("monitor", "--once", "--workspace", SLUG)
        cls._connected = True

    def setUp(self):
        self.connected()

    def test_all_pass(self):
        r, got = self.doctor()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for check in ("config", "key ring", "database server",
                      "control database", "workspace acme database",
                      "workspace remote database",
                      "workspace acme subscription",
                      "workspace acme monitor",
                      "workspace remote subscription", "meta", "webhook"):
            self.assertEqual(got[check][0], "ok", (check, r.stdout))
        self.assertIn("subscribed (monitor,", got["workspace acme subscription"][1])
        self.assertIn("nothing to check (not_connected)",
                      got["workspace remote subscription"][1])
        self.assertIn("answers Meta's handshake", got["webhook"][1])
        self.assertIn("mode 0600", got["key ring"][1])
        # Each `*_file` secret of the config, and their directory once.
        for check in ("[database] password_file", "[meta] app_secret_file",
                      "[meta] webhook_verify_token_file",
                      "secret directory"):
            self.assertEqual(got[check][0], "ok", (check, r.stdout))
        self.assertIn("mode 0640", got["[meta] app_secret_file"][1])
        self.assertEqual(r.stdout.count("secret directory:"), 1, r.stdout)
        self.assertRegex(r.stdout, r"\n0 failed, 0 warnings\n$")
        # The verify token went to the callback, never into the output.
        self.assertNotIn("verify_token=", r.stdout)

    def test_key_ring_mode(self):
        ring = self.st.path("keyring")
        os.chmod(ring, 0o640)
        try:
            r, got = self.doctor()
        finally:
            os.chmod(ring, 0o600)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["key ring"][0], "FAIL")
        self.assertIn("mode 0640", got["key ring"][1])
        # The others still ran.
        self.assertEqual(got["meta"][0], "ok", r.stdout)

    def secret_copy(self, name, mode, key="app_secret_file"):
        """A copy of the app secret at name (under the stack's
        directory, or a path), mode given, and a config naming it."""
        path = name if os.path.isabs(name) else self.st.path(name)
        with open(path, "w") as f:
            f.write(self.st.app_secret + "\n")
        os.chown(path, -1, self.st.pool_gid)
        os.chmod(path, mode)
        return path, self.other_config(
            name.replace("/", "_") + ".conf", **{key: key + " = " + path})

    def test_secret_file_readable_by_others(self):
        path, conf = self.secret_copy("open-secret", 0o644)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["[meta] app_secret_file"][0], "FAIL", r.stdout)
        self.assertIn(path + ": mode 0644 lets others read or write it",
                      got["[meta] app_secret_file"][1])
        # The others' lines are there, and fine.
        self.assertEqual(got["[database] password_file"][0], "ok", r.stdout)
        self.assertEqual(got["key ring"][0], "ok", r.stdout)

    def test_secret_file_writable_by_group(self):
        path, conf = self.secret_copy("group-secret", 0o660)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["[meta] app_secret_file"][0], "FAIL", r.stdout)
        self.assertIn("lets its group write it",
                      got["[meta] app_secret_file"][1])

    def test_secret_file_of_another_group_or_owner(self):
        path, conf = self.secret_copy("other-group-secret", 0o640)
        gid = os.stat(path).st_gid
        other = 4242 if gid != 4242 else 4243
        os.chown(path, -1, other)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("lets group %d read it" % other,
                      got["[meta] app_secret_file"][1])
        os.chmod(path, 0o600)
        os.chown(path, 4242, -1)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("owned by uid 4242, not by root or",
                      got["[meta] app_secret_file"][1])

    def test_secret_directory_writable_by_others(self):
        d = self.st.path("open-dir")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o777)
        path, conf = self.secret_copy(os.path.join(d, "verify-token"), 0o640,
                                      key="webhook_verify_token_file")
        with open(path, "w") as f:
            f.write(self.st.verify_token + "\n")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o640)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        dirs = [l for l in r.stdout.splitlines() if " secret directory: " in l]
        self.assertEqual(len(dirs), 2, r.stdout)
        self.assertIn("FAIL secret directory: %s: mode 0777 lets others "
                      "replace the secrets in it" % d, r.stdout)
        self.assertEqual(got["[meta] webhook_verify_token_file"][0], "ok")
        # Sticky (as /tmp): others cannot rename ours, but may plant one.
        os.chmod(d, 0o1777)
        r, got = self.doctor(conf)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("warn secret directory: %s: mode 1777" % d, r.stdout)

    def test_config_readable_by_others(self):
        path = self.other_config("open.conf")
        os.chmod(path, 0o644)
        r, got = self.doctor(path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["config"][0], "FAIL")
        self.assertIn("lets others read it", got["config"][1])

    def test_database_server_down(self):
        self.st.stop_mariadb("mariadb2")
        try:
            r, got = self.doctor()
        finally:
            self.st.start_mariadb("mariadb2")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["workspace remote database"][0], "FAIL")
        self.assertIn("server unreachable",
                      got["workspace remote database"][1])
        self.assertIn("FAIL database server: unix:" + self.sock2, r.stdout)
        self.assertEqual(got["workspace acme database"][0], "ok")

    def test_database_not_migrated(self):
        db = self.st.sql("SELECT db_name FROM workspaces WHERE slug = "
                         "'remote'", db="waba_control").strip()
        top = self.st.sql("SELECT MAX(version) FROM schema_version",
                          db=db, socket=self.sock2).strip()
        self.st.sql("DELETE FROM schema_version WHERE version = %s" % top,
                    db=db, socket=self.sock2)
        try:
            r, got = self.doctor()
        finally:
            self.st.sql("INSERT INTO schema_version VALUES (%s, NOW())" % top,
                        db=db, socket=self.sock2)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["workspace remote database"][0], "FAIL")
        self.assertIn("run `waba-connect-admin migrate`",
                      got["workspace remote database"][1])

    def test_meta_down(self):
        self.st.stop_sandbox()
        try:
            r, got = self.doctor()
        finally:
            self.st.start_sandbox(port=self.st.sandbox_port)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["meta"][0], "FAIL")
        self.assertEqual(got["webhook"][0], "ok", r.stdout)

    def test_webhook_wrong_token(self):
        other = self.st.path("other-token")
        with open(other, "w") as f:
            f.write("not the token the pool has\n")
        os.chmod(other, 0o640)
        path = self.other_config(
            "other-token.conf",
            webhook_verify_token_file="webhook_verify_token_file = " + other)
        r, got = self.doctor(path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["webhook"][0], "FAIL")
        self.assertIn("answered the handshake with 403", got["webhook"][1])
        self.assertNotIn("not the token", r.stdout)

    def test_web_server_down(self):
        path = self.other_config(
            "nowhere.conf", base_url="base_url = http://127.0.0.1:9")
        r, got = self.doctor(path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["webhook"][0], "FAIL")

    def test_not_subscribed(self):
        self.st.sql("UPDATE health SET subscription_ok = 0", db="waba_ws_1")
        try:
            r, got = self.doctor()
        finally:
            self.st.sql("UPDATE health SET subscription_ok = 1",
                        db="waba_ws_1")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["workspace acme subscription"][0], "FAIL")
        self.assertIn("not subscribed", got["workspace acme subscription"][1])

    def test_stale_monitor_is_a_warning(self):
        """A health row from days ago: no monitor is running, and the
        subscription's "ok" is old news; doctor says so."""
        self.st.sql("UPDATE health SET checked_at = checked_at - INTERVAL 3 "
                    "DAY", db="waba_ws_1")
        try:
            r, got = self.doctor()
        finally:
            self.st.sql("UPDATE health SET checked_at = checked_at + "
                        "INTERVAL 3 DAY", db="waba_ws_1")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(got["workspace acme monitor"][0], "warn", r.stdout)
        self.assertIn("is a monitor running", got["workspace acme monitor"][1])
        self.assertRegex(got["workspace acme monitor"][1],
                         r"last check (43\d\d) minutes ago")

    def test_never_checked_is_a_warning(self):
        self.st.sql("CREATE TABLE health_kept AS SELECT * FROM health; "
                    "DELETE FROM health", db="waba_ws_1")
        try:
            r, got = self.doctor()
        finally:
            self.st.sql("INSERT INTO health SELECT * FROM health_kept; "
                        "DROP TABLE health_kept", db="waba_ws_1")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(got["workspace acme subscription"][0], "warn")


class DoctorTLS(DoctorMixin, StackCase):
    """The sandbox on https with its test CA as [meta] ca_file."""
    workers = 1
    sandbox = True
    sandbox_tls = True

    def test_tls_verified_with_ca_file(self):
        r, got = self.doctor()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("reachable over TLS, certificate verified with " +
                      self.st.sandbox_ca, got["meta"][1])

    def test_untrusted_certificate(self):
        path = self.other_config("no-ca.conf", ca_file=None)
        r, got = self.doctor(path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(got["meta"][0], "FAIL")
        self.assertRegex(got["meta"][1], r"(?i)certificate|SSL")
