"""Issue 9 item 7: started as root, the pool drops to [server] user after
opening its socket and reading its files (src/priv.h), and refuses to
serve as root without it. Root only: as anyone else there is nothing to
drop (the stack then names no user)."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import unittest

from base import StackCase
from client import request
from meta import sign_in
from stack import POOL_USER, ROOT, binary, free_port, wait_for

EMAIL, PW = "owner@priv.example", "a long enough password"


def proc_ids(pid):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "Groups": [...]}
    of a running process, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(x) for x in val.split()]
    return out


def user_groups(name):
    """The gids initgroups(3) gives name: its own and its supplementary."""
    pw = pwd.getpwnam(name)
    return sorted(set([pw.pw_gid] + os.getgrouplist(name, pw.pw_gid)))


class Privilege(StackCase):
    workers = 2

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("the privilege drop needs root")
        super().setUpClass()

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "priv", "Priv Ltd")
        cls.st.admin("user", "add", "priv", EMAIL, input=PW + "\n")

    def log(self):
        with open(self.st.path("pool.log")) as f:
            return f.read()

    def run_pool(self, conf, *extra, **kw):
        """The pool on conf (a path), on a socket in the run directory;
        returns (completed process, socket path)."""
        sock = self.st.path("other.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        r = subprocess.run([binary("waba-connect"), "--config", conf,
                            "--listen", "unix:" + sock, "--workers", "1"] +
                           list(extra), capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL, **kw)
        return r, sock

    def conf_with(self, name, user=None, ring=None, templates=None):
        """A copy of the stack's config with [server] user replaced (None:
        no such line) and, if given, another key ring or templates."""
        with open(self.st.config_path) as f:
            text = f.read()
        self.assertIn("user = %s\n" % POOL_USER, text)
        text = text.replace("user = %s\n" % POOL_USER,
                            "" if user is None else "user = %s\n" % user)
        if ring:
            text = text.replace(self.st.path("keyring"), ring)
        if templates:
            text = text.replace(os.path.join(ROOT, "templates"), templates)
        path = self.st.path(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def test_supervisor_and_workers_serve_as_the_user(self):
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)
        pw = pwd.getpwnam(POOL_USER)
        pids = [self.st.procs["pool"].pid] + self.st.worker_pids()
        self.assertEqual(len(pids), 1 + self.workers)
        for pid in pids:
            ids = proc_ids(pid)
            self.assertEqual(ids["Uid"], [pw.pw_uid] * 4, pid)
            self.assertEqual(ids["Gid"], [pw.pw_gid] * 4, pid)
            self.assertEqual(sorted(ids["Groups"]), user_groups(POOL_USER),
                             pid)
        with open(self.st.path("pool.log")) as f:
            self.assertIn("serving as user %s (uid %d, gid %d)"
                          % (POOL_USER, pw.pw_uid, pw.pw_gid), f.read())

    def test_a_replaced_worker_serves_as_the_user_too(self):
        pid = self.st.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: pid not in self.st.worker_pids() and
                 len(self.st.worker_pids()) == self.workers, 10,
                 "a new worker")
        new = [p for p in self.st.worker_pids() if p != pid]
        for p in new:
            self.assertEqual(proc_ids(p)["Uid"][0],
                             pwd.getpwnam(POOL_USER).pw_uid)
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)

    def test_unix_socket_is_the_users_mode_0660(self):
        st = os.stat(self.st.pool_socket)
        pw = pwd.getpwnam(POOL_USER)
        self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid))
        self.assertEqual(st.st_mode & 0o7777, 0o660)

    def test_root_without_user_refuses_to_start(self):
        conf = self.conf_with("no-user.conf")
        r, sock = self.run_pool(conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.strip(), "waba-connect: started as root "
                         "without [server] user: refusing to serve as "
                         "root; set [server] user to the account to serve "
                         "as")
        self.assertFalse(os.path.exists(sock))

    def test_unknown_user_is_a_config_error(self):
        conf = self.conf_with("bad-user.conf", user="no-such-user-w9")
        for extra in ([], ["--check"]):
            r, sock = self.run_pool(conf, *extra)
            self.assertNotEqual(r.returncode, 0, extra)
            self.assertIn('[server] user: no such user "no-such-user-w9"',
                          r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1)
            self.assertFalse(os.path.exists(sock))

    def test_root_as_the_user_is_refused(self):
        conf = self.conf_with("root-user.conf", user="root")
        r, _ = self.run_pool(conf, "--check")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[server] user: "root" is root', r.stderr)

    def test_key_ring_the_user_cannot_read_refuses_to_start(self):
        ring = self.st.path("keyring-root")
        shutil.copyfile(self.st.path("keyring"), ring)
        os.chown(ring, 0, 0)
        os.chmod(ring, 0o600)
        conf = self.conf_with("ring-root.conf", user=POOL_USER, ring=ring)
        r, sock = self.run_pool(conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"^waba-connect: %s: Permission denied "
                         r"as user %s: .*make it owned by %s, mode 0600\n$"
                         % (re.escape(ring), POOL_USER, POOL_USER))
        self.assertFalse(os.path.exists(sock))

    def test_rotation_as_root_keeps_the_ring_the_users(self):
        ring = self.st.path("keyring")
        pw = pwd.getpwnam(POOL_USER)
        st = os.stat(ring)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o600))
        before = st.st_ino
        self.st.admin("keys", "rotate")
        st = os.stat(ring)
        self.assertNotEqual(st.st_ino, before)   # replaced by rename
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (pw.pw_uid, pw.pw_gid, 0o600))
        # A sign-in issues a device cookie with the current key: the
        # worker re-reads the replaced ring, as the user.
        sign_in(self.port, EMAIL, PW)
        wait_for(lambda: "key ring reloaded: now at version" in self.log(),
                 10, "a worker to read the new ring")
        self.assertNotIn("key ring not reloaded", self.log())

    def test_started_as_another_user_than_named_refuses(self):
        nobody = pwd.getpwnam(POOL_USER)
        other = next(p for p in pwd.getpwall()
                     if p.pw_uid not in (0, nobody.pw_uid))
        conf = self.conf_with("other-user.conf", user=other.pw_name)
        os.chown(conf, -1, nobody.pw_gid)
        os.chmod(conf, 0o640)

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        r, _ = self.run_pool(conf, preexec_fn=become_nobody)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[server] user is "%s" (uid %d), but started as uid '
                      '%d: only root can become another user'
                      % (other.pw_name, other.pw_uid, nobody.pw_uid),
                      r.stderr)

    def test_started_as_the_named_user_serves_without_a_drop(self):
        nobody = pwd.getpwnam(POOL_USER)

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        port = free_port()
        log = open(self.st.path("as-nobody.log"), "w+")
        p = subprocess.Popen([binary("waba-connect"), "--config",
                              self.st.config_path, "--listen",
                              "127.0.0.1:%d" % port, "--workers", "1"],
                             stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL,
                             preexec_fn=become_nobody)
        try:
            wait_for(lambda: "supervisor started" in open(
                self.st.path("as-nobody.log")).read(), 20, "the pool")
            self.assertEqual(proc_ids(p.pid)["Uid"][0], nobody.pw_uid)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
            log.close()
        text = open(self.st.path("as-nobody.log")).read()
        self.assertNotIn("serving as user", text)
        self.assertEqual(p.returncode, 0, text)

    def test_templates_the_user_cannot_read_are_a_warning(self):
        tdir = self.st.path("templates-root")
        shutil.rmtree(tdir, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "templates"), tdir)
        os.chmod(tdir, 0o700)
        conf = self.conf_with("tmpl-root.conf", user=POOL_USER,
                              templates=tdir)
        port = free_port()
        path = self.st.path("tmpl-root.log")
        with open(path, "w") as log:
            p = subprocess.Popen([binary("waba-connect"), "--config", conf,
                                  "--listen", "127.0.0.1:%d" % port,
                                  "--workers", "1"], stdout=log,
                                 stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: "supervisor started" in open(path).read(), 20,
                     "the pool")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        text = open(path).read()
        # The config itself (root's, 0600) and the templates, each named.
        self.assertIn("warn: as user %s: cannot read %s: Permission denied"
                      % (POOL_USER, conf), text)
        self.assertIn("warn: as user %s: %s: Permission denied; SIGHUP "
                      "will refuse to reload" % (POOL_USER, tdir), text)
        self.assertIn("serving as user %s" % POOL_USER, text)
        self.assertEqual(p.returncode, 0, text)

    def test_sighup_cannot_change_the_user(self):
        other = next(p for p in pwd.getpwall()
                     if p.pw_uid not in (0, self.st.pool_uid))
        pool = self.st.procs["pool"]
        try:
            self.st.write_config(**{"server.user": other.pw_name})
            n = self.log().count("reloading: generation")
            pool.send_signal(signal.SIGHUP)
            wait_for(lambda: self.log().count("reloading: generation") > n,
                     10, "the reload")
            self.assertIn("[server] user changed: it takes effect at the "
                          "next start", self.log())
            wait_for(lambda: len(self.st.worker_pids()) == self.workers,
                     10, "workers")
            for pid in [pool.pid] + self.st.worker_pids():
                self.assertEqual(proc_ids(pid)["Uid"][0], self.st.pool_uid)
        finally:
            self.st.write_config(**{"server.user": POOL_USER})
            n = self.log().count("reloading: generation")
            pool.send_signal(signal.SIGHUP)
            wait_for(lambda: self.log().count("reloading: generation") > n,
                     10, "the reload back")
