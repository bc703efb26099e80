"""Issue 2: the pool behind lighttpd, against a real MariaDB."""
import os
import re
import shutil
import signal
import subprocess
import time

from base import StackCase
from client import FastCGIRequest, hammer, request
from stack import ROOT, binary, wait_for

# One access line (src/log.c, src/app.c): the worker's pid in the prefix,
# then method, path without the query string, status and microseconds,
# and last the request's id (log.h).
ACCESS = re.compile(r"^\S+ waba-connect\[(\d+)\] info: (\S+) (\S+) (\d{3}) "
                    r"(\d+)us(?: request_id=[\w.:-]+)?$", re.M)

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def broken_templates(dest, src=os.path.join(ROOT, "templates"),
                     name="login.html", text="{{#oops}}\n"):
    """A copy of the templates in dest whose file name ends with text
    (by default an unclosed section); returns dest."""
    shutil.copytree(src, dest, dirs_exist_ok=True)
    with open(os.path.join(dest, name), "a") as f:
        f.write(text)
    return dest


class PoolBehindLighttpd(StackCase):
    workers = 3

    def test_healthz_ok(self):
        r = request(self.port, "GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.text, "ok\n")
        for k, v in SECURITY_HEADERS.items():
            self.assertEqual(r.header(k), v)
        self.assertIn("default-src 'none'",
                      r.header("Content-Security-Policy"))

    def test_unknown_path_is_404_page(self):
        r = request(self.port, "GET", "/no/such/page?x=1")
        self.assertEqual(r.status, 404)
        self.assertIn("text/html", r.header("Content-Type"))
        self.assertIn("<h1>Page not found</h1>", r.text)
        self.assertIn('href="/static/style.css"', r.text)
        self.assertEqual(r.header("X-Frame-Options"), "DENY")

    def test_wrong_method_is_405_with_allow(self):
        r = request(self.port, "POST", "/healthz", body=b"")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_bad_escape_in_path_is_400(self):
        r = request(self.port, "GET", "/w/%zz/settings/whatsapp")
        self.assertIn(r.status, (400,))
        r = request(self.port, "GET", "/healthz?a=%00")
        self.assertEqual(r.status, 400)

    def test_2mib_post_is_413(self):
        r = request(self.port, "POST", "/login", body=b"a=" + b"x" * (2 << 20),
                    headers={"Content-Type":
                             "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 413)
        self.assertIn("too large", r.text)

    def test_request_refusals_have_their_status(self):
        """request.c names why it refused (enum req_err) and app.c picks
        the status: too long an address, a form that is not one, a
        field given twice. Each is an error page, not a 500."""
        r = request(self.port, "GET", "/healthz/" + "p" * 2100)
        self.assertEqual(r.status, 414)
        self.assertIn("too long", r.text)
        r = request(self.port, "POST", "/login", body=b"a=1",
                    headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        self.assertIn("expected a form", r.text)
        r = request(self.port, "POST", "/login", body=b"a=1&a=2",
                    headers={"Content-Type":
                             "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400)
        self.assertIn("field given twice", r.text)
        # The webhook's body is raw: any type reaches the signature check.
        r = request(self.port, "POST", "/webhooks/meta", body=b"{}",
                    headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 403)

    def test_login_page_is_styled(self):
        r = request(self.port, "GET", "/login")
        self.assertEqual(r.status, 200)
        self.assertIn('name="email"', r.text)
        self.assertIn('name="password"', r.text)
        css = request(self.port, "GET", "/static/style.css")
        self.assertEqual(css.status, 200)
        self.assertIn("text/css", css.header("Content-Type"))

    def test_head_has_no_body(self):
        r = request(self.port, "HEAD", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_kill9_worker_is_replaced(self):
        before = self.st.worker_pids()
        self.assertEqual(len(before), self.workers)
        threads, statuses = hammer(self.port, 3.0)
        time.sleep(1.0)
        os.kill(before[0], signal.SIGKILL)
        for t in threads:
            t.join()
        wait_for(lambda: len(self.st.worker_pids()) == self.workers, 10,
                 "replacement worker")
        after = self.st.worker_pids()
        self.assertNotIn(before[0], after)
        bad = [s for s in statuses if s != 200]
        self.assertGreater(len(statuses), 20)
        # Only the request in flight in the killed worker may be lost.
        self.assertLessEqual(len(bad), 1, bad)

    def test_sighup_reload_drops_nothing(self):
        before = set(self.st.worker_pids())
        threads, statuses = hammer(self.port, 2.5)
        time.sleep(0.8)
        self.st.procs["pool"].send_signal(signal.SIGHUP)
        for t in threads:
            t.join()
        wait_for(lambda: len(self.st.worker_pids()) == self.workers and
                 not (set(self.st.worker_pids()) & before), 15,
                 "new generation")
        self.assertEqual([s for s in statuses if s != 200], [])
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)

    def test_sighup_with_broken_template_keeps_serving(self):
        bad = broken_templates(self.st.path("templates-bad"))
        before = set(self.st.worker_pids())
        self.st.write_config(**{"server.template_dir": bad})
        try:
            self.st.procs["pool"].send_signal(signal.SIGHUP)
            time.sleep(1.0)
            self.assertEqual(set(self.st.worker_pids()), before)
            self.assertEqual(request(self.port, "GET", "/login").status, 200)
            with open(self.st.path("pool.log")) as f:
                self.assertIn("login.html:", f.read())
        finally:
            self.st.write_config(**{"server.template_dir": os.path.join(
                ROOT, "templates")})

    def test_access_log_line(self):
        log = self.st.path("pool.log")

        def lines():
            with open(log) as f:
                return [m for m in ACCESS.finditer(f.read())
                        if m.group(3) == "/healthz"]

        n = len(lines())
        r = request(self.port, "GET", "/healthz?secret=xyz")
        self.assertEqual(r.status, 200)
        wait_for(lambda: len(lines()) == n + 1, 5, "the access line")
        m = lines()[-1]
        self.assertEqual(m.group(2), "GET")
        self.assertEqual(m.group(4), "200")
        self.assertGreater(int(m.group(5)), 0)
        self.assertIn(int(m.group(1)), self.st.worker_pids())
        with open(log) as f:
            self.assertNotIn("xyz", f.read())

    def test_refused_path_is_logged_as_asked(self):
        log = self.st.path("pool.log")
        r = request(self.port, "GET", "/w/%zz/settings/whatsapp?secret=xyz")
        self.assertEqual(r.status, 400)

        def seen():
            with open(log) as f:
                return [m for m in ACCESS.finditer(f.read())
                        if m.group(3) == "/w/%zz/settings/whatsapp"]
        wait_for(lambda: seen(), 5, "the access line")
        self.assertEqual(seen()[-1].group(4), "400")
        with open(log) as f:
            self.assertNotIn("xyz", f.read())

    def test_controls_in_a_path_are_escaped_in_the_log(self):
        # Issue 8 item 13: a decoded path with U+0085 (NEL), U+009B (CSI)
        # and U+202E (RTL override) reaches the access line as \xNN text.
        log = self.st.path("pool.log")
        request(self.port, "GET", "/w/a%C2%85b%C2%9Bc%E2%80%AEd/x")
        want = "/w/a\\xc2\\x85b\\xc2\\x9bc\\xe2\\x80\\xaed/x"

        def seen():
            with open(log, "rb") as f:
                return [m for m in ACCESS.finditer(f.read().decode(
                    "utf-8", "replace")) if m.group(3) == want]
        wait_for(lambda: seen(), 5, "the access line")
        with open(log, "rb") as f:
            data = f.read()
        for bad in (b"\xc2\x85", b"\xc2\x9b", b"\xe2\x80\xae"):
            self.assertNotIn(bad, data)

    def test_zz_mariadb_outage(self):
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)
        self.st.stop_mariadb()
        try:
            r = request(self.port, "GET", "/healthz")
            self.assertEqual(r.status, 503)
            for _ in range(self.workers * 2):   # every worker notices
                self.assertEqual(
                    request(self.port, "GET", "/healthz").status, 503)
        finally:
            self.st.start_mariadb()
        pids = self.st.worker_pids()
        for _ in range(self.workers * 3):
            self.assertEqual(request(self.port, "GET", "/healthz").status, 200)
        self.assertEqual(self.st.worker_pids(), pids)


class Recycling(StackCase):
    workers = 2
    config = {"server.max_requests": 5}

    def test_workers_recycle_after_max_requests(self):
        before = set(self.st.worker_pids())
        for _ in range(30):
            self.assertEqual(request(self.port, "GET", "/healthz").status, 200)
        wait_for(lambda: len(self.st.worker_pids()) == 2, 10, "workers")
        self.assertFalse(before & set(self.st.worker_pids()))


class ReloadKeepsValidatedState(StackCase):
    """Workers run what the supervisor validated last: a recycled or
    replaced worker never reads the files again, so a broken file that a
    SIGHUP refused, or an edit nobody reloaded, cannot reach it."""
    workers = 2
    config = {"server.max_requests": 5}
    TITLE = "<h1>Sign in</h1>"

    @classmethod
    def setUpStack(cls):
        cls.tdir = cls.st.path("templates")
        shutil.copytree(os.path.join(ROOT, "templates"), cls.tdir)
        with open(os.path.join(cls.tdir, "login.html")) as f:
            cls.login = f.read()
        cls.st.write_config(**{"server.template_dir": cls.tdir})

    def tearDown(self):
        self.write_login(self.login)
        os.chmod(self.st.path("keyring"), 0o600)

    def write_login(self, text):
        with open(os.path.join(self.tdir, "login.html"), "w") as f:
            f.write(text)

    def log(self):
        with open(self.st.path("pool.log")) as f:
            return f.read()

    def hup_and_wait_refused(self):
        n = self.log().count("reload refused")
        self.st.procs["pool"].send_signal(signal.SIGHUP)
        wait_for(lambda: self.log().count("reload refused") > n, 10,
                 "the refusal")

    def recycle_all(self, want_title):
        """Enough requests that every worker is replaced at least once."""
        before = set(self.st.worker_pids())
        for i in range(40):
            r = request(self.port, "GET", "/login" if i % 2 else "/healthz")
            self.assertEqual(r.status, 200, r.text[:300])
            if i % 2:
                self.assertIn(want_title, r.text)
        wait_for(lambda: len(self.st.worker_pids()) == self.workers, 10,
                 "workers")
        self.assertFalse(before & set(self.st.worker_pids()))

    def test_broken_template_refused_then_workers_recycle(self):
        self.write_login(self.login + "{{#oops}}\n")
        crashes = self.log().count("exited with status")
        self.hup_and_wait_refused()
        self.assertRegex(self.log(), r"reload refused.*login\.html:\d+: ")
        self.recycle_all(self.TITLE)
        self.assertEqual(self.log().count("exited with status"), crashes)

    def test_key_ring_readable_by_others_refused_then_workers_recycle(self):
        os.chmod(self.st.path("keyring"), 0o644)
        self.hup_and_wait_refused()
        self.assertRegex(self.log(), r"reload refused.*keyring: mode 0644")
        self.recycle_all(self.TITLE)

    def test_edit_applies_on_sighup_only(self):
        new = "<h1>Sign in to your shop</h1>"
        self.write_login(self.login.replace(self.TITLE, new))
        # Not reloaded: recycled workers keep the validated page.
        self.recycle_all(self.TITLE)
        self.st.procs["pool"].send_signal(signal.SIGHUP)
        wait_for(lambda: new in request(self.port, "GET", "/login").text,
                 10, "the new page")
        self.recycle_all(new)
        # Back to the original for the other tests.
        self.write_login(self.login)
        self.st.procs["pool"].send_signal(signal.SIGHUP)
        wait_for(lambda: self.TITLE in request(self.port, "GET",
                                               "/login").text,
                 10, "the original page")

    def test_idle_worker_stops_at_once_on_sigterm(self):
        for _ in range(5):
            wait_for(lambda: len(self.st.worker_pids()) == self.workers, 10,
                     "workers")
            pid = self.st.worker_pids()[0]
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: pid not in self.st.worker_pids(), 2,
                     "worker %d to stop" % pid)
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)

    def test_startup_with_broken_template_fails_naming_the_line(self):
        bad = broken_templates(self.st.path("templates-bad"), self.tdir,
                               "header.html", "ok\n{{#open}}\n")
        with open(self.st.config_path) as f:
            conf = f.read().replace(self.tdir, bad)
        path = self.st.path("bad.conf")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(path, 0o600)
        sock = self.st.path("bad.sock")
        r = subprocess.run([binary("waba-connect"), "--config",
                            path, "--listen", "unix:" + sock, "--workers",
                            "1"], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"header\.html:\d+: \S")
        self.assertFalse(os.path.exists(sock))


class Draining(StackCase):
    workers = 1

    def test_sigterm_lets_inflight_request_finish(self):
        body = b"email=a%40b.example&password=wrong-password"
        fr = FastCGIRequest(self.st.pool_socket, "POST", "/login", len(body),
                            "application/x-www-form-urlencoded")
        fr.send_body(body[:10])
        time.sleep(0.5)         # the worker is now reading our body
        pool = self.st.procs["pool"]
        pool.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertIsNone(pool.poll(), "supervisor must wait for the drain")
        fr.send_body(body[10:], last=True)
        out = fr.read_response()
        # The handler read the whole body and answered: the sign-in
        # form was judged (no form token here, so 403), not cut off.
        self.assertTrue(out.startswith(b"Status: 403"), out[:200])
        self.assertIn(b"This sign-in form has expired", out)
        pool.wait(20)
        self.assertEqual(pool.returncode, 0)


class SpawnedByLighttpd(StackCase):
    spawn = True
    workers = 2

    def test_healthz_through_spawned_workers(self):
        for _ in range(6):
            r = request(self.port, "GET", "/healthz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.text, "ok\n")
        lighttpd = self.st.procs["lighttpd"].pid
        kids = subprocess.run(["pgrep", "-P", str(lighttpd)],
                              capture_output=True, text=True).stdout.split()
        self.assertEqual(len(kids), 2)
        r = request(self.port, "GET", "/nope")
        self.assertEqual(r.status, 404)
        self.assertIn("Page not found", r.text)

    def kids(self):
        lighttpd = self.st.procs["lighttpd"].pid
        return sorted(int(p) for p in subprocess.run(
            ["pgrep", "-P", str(lighttpd)], capture_output=True,
            text=True).stdout.split())

    def log_count(self, what):
        # The spawned workers' stderr is lighttpd's.
        with open(self.st.path("lighttpd.log")) as f:
            return f.read().count(what)

    def test_sighup_reloads_spawned_worker_in_place(self):
        for _ in range(4):
            self.assertEqual(request(self.port, "GET", "/healthz").status, 200)
        before = self.kids()
        self.assertEqual(len(before), self.workers)
        n = self.log_count("info: reloaded ")
        for pid in before:
            os.kill(pid, signal.SIGHUP)
        wait_for(lambda: self.log_count("info: reloaded ") == n + 2, 5,
                 "both workers to reload")
        for _ in range(8):
            r = request(self.port, "GET", "/login")
            self.assertEqual(r.status, 200)
        self.assertEqual(self.kids(), before)

    def test_sighup_with_broken_template_keeps_spawned_worker(self):
        bad = broken_templates(self.st.path("templates-bad"))
        before = self.kids()
        n = self.log_count("reload refused")
        self.st.write_config(**{"server.template_dir": bad})
        try:
            for pid in before:
                os.kill(pid, signal.SIGHUP)
            wait_for(lambda: self.log_count("reload refused") == n + 2, 5,
                     "both workers to refuse")
            for _ in range(8):
                r = request(self.port, "GET", "/login")
                self.assertEqual(r.status, 200)
                self.assertIn("<h1>Sign in</h1>", r.text)
            self.assertEqual(self.kids(), before)
        finally:
            self.st.write_config(**{"server.template_dir": os.path.join(
                ROOT, "templates")})
