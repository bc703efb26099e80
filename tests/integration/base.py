"""A running stack per test class: MariaDB, the pool, lighttpd (and the
Meta sandbox when a class asks for it)."""
import os
import shutil
import subprocess
import unittest

from stack import ROOT, Stack, binary, free_port

OUT = os.path.join(ROOT, "tests", "out")


class StackCase(unittest.TestCase):
    workers = 3
    sandbox = False
    sandbox_tls = False  # the sandbox on https, [meta] ca_file = its test CA
    spawn = False        # lighttpd spawns the workers itself
    web = "lighttpd"     # or "apache": mod_proxy_fcgi to the pool on TCP
    config = {}
    admin_setup = True   # keys init + migrate when the admin tool exists

    @classmethod
    def setUpClass(cls):
        run = os.path.join(OUT, "run", cls.__module__ + "." + cls.__name__)
        shutil.rmtree(run, ignore_errors=True)
        cls.st = Stack(run, workers=cls.workers)
        try:
            cls.st.write_config(**cls.config)
            cls.st.start_mariadb()
            if cls.sandbox:
                cls.st.start_sandbox(tls=cls.sandbox_tls or None)
                cls.st.write_config()
            if cls.admin_setup and os.path.exists(
                    binary("waba-connect-admin")):
                cls.st.admin("keys", "init")
                cls.st.admin("migrate")
            cls.setUpStack()
            if cls.web == "apache":
                pool_port = free_port()
                cls.st.start_pool(tcp_port=pool_port)
                cls.st.start_apache(pool_port)
            else:
                if not cls.spawn:
                    cls.st.start_pool()
                cls.st.start_lighttpd(spawn=cls.spawn)
        except BaseException:
            cls.st.close()
            raise

    @classmethod
    def setUpStack(cls):
        """Hook: workspaces, users... before the pool starts."""

    @classmethod
    def tearDownClass(cls):
        cls.st.close()

    @property
    def port(self):
        return self.st.port


class BrowserCase(StackCase):
    """A stack with the sandbox, for the Chromium flows in tests/browser."""
    workers = 2
    sandbox = True

    def run_flow(self, script, done, shots="", **env):
        """Runs tests/browser/SCRIPT against this stack (env: EMAIL,
        PASSWORD, SLUG...; screenshots under tests/out/screenshots/SHOTS)
        and checks that it exits 0 having printed its final line DONE."""
        env = dict(os.environ, BASE_URL=self.st.base_url,
                   SANDBOX_URL="http://127.0.0.1:%d" % self.st.sandbox_port,
                   OUT_DIR=os.path.join(OUT, "screenshots", shots).rstrip("/"),
                   **env)
        r = subprocess.run(
            ["node", os.path.join(ROOT, "tests", "browser", script)],
            env=env, capture_output=True, text=True, timeout=300)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(done, r.stdout)
