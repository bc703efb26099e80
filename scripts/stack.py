#!/usr/bin/env python3
"""The whole product on one machine, for the demo and the integration tests.

Starts real parts, privately, under a run directory (nothing system-wide):
a MariaDB server on a unix socket, the waba-connect pool (standalone
supervisor or spawned by lighttpd), lighttpd on 127.0.0.1 in front, and,
when present, the Meta sandbox. Every process is stopped by close().
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(ROOT, "tests", "sandbox", "meta_sandbox.py")
# Where waba-connect and waba-connect-admin are: the checkout, or a
# separate build (scripts/test --sanitize sets it to its sanitizer build).
BIN_DIR = os.path.abspath(os.environ.get("WABA_BIN_DIR") or ROOT)


def binary(name):
    return os.path.join(BIN_DIR, name)
APP_ID = "1234567890123456"

# Started as root, the pool must drop to [server] user (src/priv.h): the
# stack names nobody, so every test exercises the drop. The files the
# pool reads again after it (config, secrets, CA) are root's with
# nobody's group, mode 0640; the key ring is nobody's, mode 0600, as
# vault.c demands, and the admin tool (root) keeps that owner.
POOL_USER = "nobody" if os.geteuid() == 0 else None


def pool_ids():
    """(uid, gid) the pool serves as: POOL_USER's, or ours."""
    if POOL_USER is None:
        return os.geteuid(), os.getegid()
    import pwd
    pw = pwd.getpwnam(POOL_USER)
    return pw.pw_uid, pw.pw_gid


def readable_by_pool(path, mode=0o640):
    """path is ours; the pool's group may read it (mode 0640)."""
    os.chown(path, -1, pool_ids()[1])
    os.chmod(path, mode)


def shipped_block(name, block):
    """The lines between "# begin BLOCK" and "# end BLOCK" in etc/NAME:
    the limits the shipped web-server configs set, which the test stack's
    servers use as they are (so the tests test what ships)."""
    with open(os.path.join(ROOT, "etc", name)) as f:
        lines = f.read().splitlines()
    marks = [i for i, l in enumerate(lines)
             if l.strip() in ("# begin " + block, "# end " + block)]
    if len(marks) != 2:
        raise RuntimeError("etc/%s: no '# begin %s' ... '# end %s' block"
                           % (name, block, block))
    return "\n".join(l.strip() for l in lines[marks[0] + 1:marks[1]]) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


class Stack:
    def __init__(self, run_dir, port=None, workers=3, quiet=True):
        self.run = os.path.abspath(run_dir)
        self.port = port or free_port()
        self.workers = workers
        self.quiet = quiet
        self.procs = {}
        self.base_url = "http://127.0.0.1:%d" % self.port
        os.makedirs(self.run, exist_ok=True)
        self.db_socket = os.path.join(self.run, "mysql.sock")
        self.pool_socket = os.path.join(self.run, "waba.sock")
        self.config_path = os.path.join(self.run, "waba-connect.conf")
        self.sandbox_port = None
        self.sandbox_scheme = "http"
        self.sandbox_ca = None   # the test CA when the sandbox speaks https
        self.db_password = secrets.token_urlsafe(18)
        self.app_secret = secrets.token_hex(16)
        self.verify_token = secrets.token_urlsafe(12)
        self.config_extra = {}
        # Extra mariadbd options (the bench sizes its server for its
        # workload; the tests' small one is below).
        self.mariadb_args = []
        self.cleanup = []    # directories close() removes
        self.pool_uid, self.pool_gid = pool_ids()

    # -- helpers ---------------------------------------------------------
    def path(self, *p):
        return os.path.join(self.run, *p)

    def _spawn(self, name, argv, **kw):
        log = open(self.path(name + ".log"), "ab")
        # Own session: a Ctrl-C on the terminal reaches only Python,
        # which stops the parts in order (close()); otherwise they all
        # die at once and the demo reports a false "stopped unexpectedly".
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             **kw)
        self.procs[name] = p
        return p

    def _stop(self, name, sig=signal.SIGTERM, timeout=30):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    # -- MariaDB ---------------------------------------------------------
    def start_mariadb(self, name="mariadb"):
        """Starts a private MariaDB server; "mariadb" is the control
        server, other names are further servers for workspaces (same
        database user and password). Returns its socket path."""
        data = self.path(name)
        sock = self.db_socket if name == "mariadb" else self.path(
            name + ".sock")
        fresh = not os.path.isdir(os.path.join(data, "mysql"))
        if fresh:
            # Its bootstrap has been seen to fail once on a loaded
            # machine ("Unknown table mysql.tmp_user_nopasswd"): a
            # half-made data directory is removed and made again, once.
            for attempt in (1, 2):
                shutil.rmtree(data, ignore_errors=True)
                os.makedirs(data)
                r = subprocess.run(
                    ["mariadb-install-db", "--no-defaults",
                     "--datadir=" + data, "--user=root",
                     "--auth-root-authentication-method=socket",
                     "--skip-test-db"], capture_output=True, text=True)
                if r.returncode == 0:
                    break
                if attempt == 2:
                    raise RuntimeError("mariadb-install-db failed:\n" +
                                       r.stdout[-2000:] + r.stderr[-2000:])
        self._spawn(name, ["mariadbd", "--no-defaults", "--user=root",
                           "--datadir=" + data,
                           "--socket=" + sock,
                           "--pid-file=" + self.path(name + ".pid"),
                           "--skip-networking",
                           "--innodb-buffer-pool-size=64M",
                           "--innodb-log-file-size=16M",
                           "--log-error=" + self.path(name + ".err")] +
                    self.mariadb_args)
        wait_for(lambda: self.sql("SELECT 1", socket=sock) is not None, 60,
                 "MariaDB " + name)
        if fresh:
            pw = self.db_password
            self.sql("CREATE USER 'waba'@'localhost' IDENTIFIED BY '%s';"
                     "GRANT ALL ON `waba\\_%%`.* TO 'waba'@'localhost';"
                     % pw, socket=sock)
            if name == "mariadb":
                with open(self.path("db-password"), "w") as f:
                    f.write(pw + "\n")
                readable_by_pool(self.path("db-password"))
        return sock

    # -- a Galera cluster (issue 15) --------------------------------------
    def start_galera(self, nodes=3):
        """A MariaDB Galera cluster of `nodes` nodes (Debian's galera-4)
        on loopback TCP ports, with the waba user. Returns the host list
        for [database] host: "127.0.0.1:p1,127.0.0.1:p2,...". The nodes
        run as the mysql user: rsync's state transfer, which a joining
        node needs, refuses a root-owned data directory."""
        import pwd
        mysql = pwd.getpwnam("mysql")
        base = self.path("galera")
        os.makedirs(base, exist_ok=True)
        os.chown(base, mysql.pw_uid, mysql.pw_gid)
        self.galera = []
        for i in range(nodes):
            self.galera.append({
                "name": "galera%d" % (i + 1), "port": free_port(),
                "gport": free_port(), "ist": free_port(), "sst": free_port(),
                "data": os.path.join(base, "n%d" % (i + 1)),
                "sock": os.path.join(base, "n%d.sock" % (i + 1))})
        for i in range(nodes):
            self.start_galera_node(i, new=(i == 0))
        wait_for(lambda: self.galera_size(0) == nodes, 90, "Galera cluster")
        pw = self.db_password
        self.sql("CREATE USER 'waba'@'localhost' IDENTIFIED BY '%s';"
                 "CREATE USER 'waba'@'127.0.0.1' IDENTIFIED BY '%s';"
                 "GRANT ALL ON `waba\\_%%`.* TO 'waba'@'localhost';"
                 "GRANT ALL ON `waba\\_%%`.* TO 'waba'@'127.0.0.1';"
                 % (pw, pw), socket=self.galera[0]["sock"])
        with open(self.path("db-password"), "w") as f:
            f.write(pw + "\n")
        readable_by_pool(self.path("db-password"))
        return ",".join("127.0.0.1:%d" % n["port"] for n in self.galera)

    def start_galera_node(self, i, new=False):
        n = self.galera[i]
        if not os.path.isdir(os.path.join(n["data"], "mysql")):
            os.makedirs(n["data"], exist_ok=True)
            subprocess.run(["chown", "-R", "mysql:mysql", n["data"]],
                           check=True)
            r = subprocess.run(
                ["mariadb-install-db", "--no-defaults", "--user=mysql",
                 "--datadir=" + n["data"],
                 "--auth-root-authentication-method=socket",
                 "--skip-test-db"], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("mariadb-install-db failed:\n" +
                                   r.stdout[-2000:] + r.stderr[-2000:])
        peers = ",".join("127.0.0.1:%d" % m["gport"] for m in self.galera)
        argv = ["mariadbd", "--no-defaults", "--user=mysql",
                "--datadir=" + n["data"], "--socket=" + n["sock"],
                "--pid-file=" + n["data"] + ".pid",
                "--bind-address=127.0.0.1", "--port=%d" % n["port"],
                "--log-error=" + n["data"] + ".err",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
                "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2",
                "--default-storage-engine=InnoDB",
                "--wsrep-on=ON",
                "--wsrep-provider=/usr/lib/galera/libgalera_smm.so",
                "--wsrep-cluster-name=waba-test",
                "--wsrep-node-name=" + n["name"],
                "--wsrep-node-address=127.0.0.1:%d" % n["gport"],
                "--wsrep-cluster-address=gcomm://" + peers,
                "--wsrep-provider-options=gmcast.listen_addr=tcp://"
                "127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;gcache.size=16M"
                % (n["gport"], n["ist"]),
                "--wsrep-sst-method=rsync",
                "--wsrep-sst-receive-address=127.0.0.1:%d" % n["sst"]]
        if new:
            argv.append("--wsrep-new-cluster")
        self._spawn(n["name"], argv)
        wait_for(lambda: self.galera_state(i) == "Synced", 90,
                 "Galera node " + n["name"])

    def galera_status(self, i, var):
        out = self.sql("SHOW STATUS LIKE '%s'" % var,
                       socket=self.galera[i]["sock"])
        return out.split("\t")[1].strip() if out else None

    def galera_state(self, i):
        return self.galera_status(i, "wsrep_local_state_comment")

    def galera_size(self, i):
        v = self.galera_status(i, "wsrep_cluster_size")
        return int(v) if v else 0

    def stop_mariadb(self, name="mariadb"):
        self._stop(name, timeout=60)

    def sql(self, statement, db=None, socket=None):
        """Runs SQL as the server's root over the socket; returns stdout."""
        argv = ["mariadb", "--no-defaults", "-uroot",
                "--socket=" + (socket or self.db_socket), "-N", "-B", "-e",
                statement]
        if db:
            argv.append(db)
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            if "Can't connect" in r.stderr:
                return None
            raise RuntimeError("SQL failed: %s" % r.stderr.strip())
        return r.stdout

    # -- configuration ---------------------------------------------------
    def write_config(self, **extra):
        self.config_extra.update(extra)
        graph = dialog = "%s://127.0.0.1:%d" % (self.sandbox_scheme,
                                                self.sandbox_port or 9)
        with open(self.path("app-secret"), "w") as f:
            f.write(self.app_secret + "\n")
        with open(self.path("verify-token"), "w") as f:
            f.write(self.verify_token + "\n")
        for n in ("app-secret", "verify-token"):
            readable_by_pool(self.path(n))
        conf = {
            "server": {"base_url": self.base_url, "workers": self.workers,
                       "max_requests": 10000,
                       "template_dir": os.path.join(ROOT, "templates"),
                       "log_level": "info", "drain_seconds": 20},
            "database": {"socket": self.db_socket, "user": "waba",
                         "password_file": self.path("db-password"),
                         "control_db": "waba_control",
                         "workspace_db_prefix": "waba_ws_"},
            "crypto": {"key_ring_file": self.path("keyring")},
            "meta": {"app_id": APP_ID,
                     "app_secret_file": self.path("app-secret"),
                     "graph_version": "v25.0",
                     "graph_base_url": graph, "dialog_base_url": dialog,
                     # The sandbox's stand-in for Meta's JS SDK: the
                     # Embedded Signup popup (with [meta] config_id).
                     "sdk_url": dialog + "/sdk.js",
                     "webhook_verify_token_file": self.path("verify-token"),
                     "connect_timeout_ms": 2000, "timeout_ms": 3000,
                     "max_retries": 2},
            # The health monitor child is on by default in production;
            # here only tests/integration/test_monitor.py turns it on,
            # so no other test sees its calls to the sandbox.
            "monitor": {"enabled": "false"},
        }
        if POOL_USER:
            conf["server"]["user"] = POOL_USER
        if self.sandbox_ca:
            conf["meta"]["ca_file"] = self.sandbox_ca
        for key, val in self.config_extra.items():
            sec, k = key.split(".", 1)
            if val is None:
                conf.get(sec, {}).pop(k, None)
            else:
                conf.setdefault(sec, {})[k] = val
        with open(self.config_path, "w") as f:
            for sec, kv in conf.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        readable_by_pool(self.config_path)

    # -- the pool and the web server -------------------------------------
    def start_pool(self, workers=None, tcp_port=None, name="pool"):
        """The standalone pool on the unix socket, or on 127.0.0.1:tcp_port
        (name: another pool's, beside the first, e.g. "pool2")."""
        exe = binary("waba-connect")
        listen = ("127.0.0.1:%d" % tcp_port if tcp_port
                  else "unix:" + self.pool_socket)
        self._spawn(name, [exe, "--config", self.config_path,
                           "--listen", listen,
                           "--workers", str(workers or self.workers)])
        want = workers or self.workers
        wait_for(lambda: len(self.worker_pids(name)) >= want, 20, "workers")
        if tcp_port:
            wait_for(lambda: socket.create_connection(
                ("127.0.0.1", tcp_port), 0.2).close() or True, 20,
                "pool port")
        else:
            wait_for(lambda: os.path.exists(self.pool_socket), 20,
                     "pool socket")

    def stop_pool(self, sig=signal.SIGTERM):
        self._stop("pool", sig)

    def _pool_children(self, name="pool"):
        p = self.procs.get(name)
        if p is None:
            return []
        try:
            out = subprocess.run(["pgrep", "-P", str(p.pid)],
                                 capture_output=True, text=True).stdout
        except OSError:
            return []
        kids = []
        for pid in (int(x) for x in out.split()):
            try:
                with open("/proc/%d/comm" % pid) as f:
                    kids.append((pid, f.read().strip()))
            except OSError:
                pass
        return kids

    def worker_pids(self, name="pool"):
        """The pool's workers (not its health monitor child)."""
        return [pid for pid, comm in self._pool_children(name)
                if comm not in ("waba-monitor", "waba-push", "waba-sender")]

    def pusher_pids(self, name="pool"):
        """The pool's events pusher child ([events] push_url)."""
        return [pid for pid, comm in self._pool_children(name)
                if comm == "waba-push"]

    def monitor_pids(self, name="pool"):
        """The pool's health monitor child ([monitor] enabled)."""
        return [pid for pid, comm in self._pool_children(name)
                if comm == "waba-monitor"]

    def sender_pids(self, name="pool"):
        """The pool's outbox sender child ([sender] enabled)."""
        return [pid for pid, comm in self._pool_children(name)
                if comm == "waba-sender"]

    def start_sender(self, name="sender"):
        """A `waba-connect --sender` process of its own (issue 13)."""
        return self._spawn(name, [binary("waba-connect"), "--config",
                                  self.config_path, "--sender"])

    def stop_sender(self, name="sender", sig=signal.SIGTERM):
        self._stop(name, sig)

    def write_lighttpd(self, spawn=False, workers=None):
        fcgi = ('"socket" => "%s",\n' % (self.path("spawn.sock") if spawn
                                         else self.pool_socket))
        if spawn:
            fcgi += ('    "bin-path" => "%s",\n'
                     '    "bin-environment" => ("WABA_CONNECT_CONFIG" => "%s"),\n'
                     '    "max-procs" => %d,\n'
                     % (binary("waba-connect"), self.config_path,
                        workers or self.workers))
        src = "lighttpd-spawn.conf" if spawn else "lighttpd.conf"
        conf = """
server.modules = ( "mod_alias", "mod_fastcgi" )
server.document-root = "{static}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{run}/lighttpd.pid"
server.errorlog = "{run}/lighttpd-error.log"
# The limits of etc/{src}, as shipped:
{limits}
alias.url = ( "/static/" => "{static}/" )
mimetype.assign = ( ".css" => "text/css; charset=utf-8",
                    ".js" => "text/javascript; charset=utf-8" )
$HTTP["url"] !~ "^/static/" {{
  fastcgi.server = ( "/" => ((
    {fcgi}
    "check-local" => "disable",
    "fix-root-scriptname" => "enable",
    {backend}
  )))
}}
""".format(static=os.path.join(ROOT, "static"), port=self.port, run=self.run,
           fcgi=fcgi, src=src, limits=shipped_block(src, "limits"),
           backend=shipped_block(src, "backend limits"))
        path = self.path("lighttpd.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start_lighttpd(self, spawn=False, workers=None):
        conf = self.write_lighttpd(spawn, workers)
        subprocess.run(["lighttpd", "-tt", "-f", conf], check=True,
                       stdout=subprocess.DEVNULL)
        self._spawn("lighttpd", ["lighttpd", "-D", "-f", conf])
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port),
                                                  0.2).close() or True,
                 20, "lighttpd")

    def stop_lighttpd(self):
        self._stop("lighttpd")

    def write_apache(self, pool_port):
        """Apache 2.4 with mod_proxy_fcgi to the standalone pool on TCP, as
        etc/apache-waba-connect.conf deploys it (minus TLS, and on the TCP
        variant it describes: www-data cannot reach a socket in run/)."""
        mods = "/usr/lib/apache2/modules"
        # Apache's children run as www-data and serve /static/ themselves;
        # the checkout may sit where www-data cannot read (/root/...), so
        # they get a world-readable copy.
        static = tempfile.mkdtemp(prefix="waba-static-")
        os.chmod(static, 0o755)
        for name in os.listdir(os.path.join(ROOT, "static")):
            dst = os.path.join(static, name)
            shutil.copyfile(os.path.join(ROOT, "static", name), dst)
            os.chmod(dst, 0o644)
        self.cleanup.append(static)
        conf = """
ServerRoot "{run}"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
PidFile "{run}/apache.pid"
ErrorLog "{run}/apache-error.log"
LogLevel warn
DefaultRuntimeDir "{run}"
Mutex file:{run} default
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_fcgi_module {mods}/mod_proxy_fcgi.so
LoadModule reqtimeout_module {mods}/mod_reqtimeout.so
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
TypesConfig /dev/null
AddType text/css .css
DocumentRoot "{static}"
Alias /static/ "{static}/"
<Directory "{static}">
    Require all granted
</Directory>
ProxyPass /static/ !
# enablereuse=off, as in etc/: kept connections would pin the workers.
ProxyPass / fcgi://127.0.0.1:{pool_port}/ enablereuse=off
# The limits and the API block of etc/apache-waba-connect.conf, as shipped:
{limits}
{api}
""".format(run=self.run, port=self.port, pool_port=pool_port,
           static=static, mods=mods,
           limits=shipped_block("apache-waba-connect.conf", "limits"),
           api=shipped_block("apache-waba-connect.conf", "api"))
        path = self.path("apache.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start_apache(self, pool_port):
        conf = self.write_apache(pool_port)
        r = subprocess.run(["apache2", "-t", "-f", conf],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("apache2 -t: " + r.stderr.strip())
        self._spawn("apache", ["apache2", "-DFOREGROUND", "-f", conf])
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port),
                                                  0.2).close() or True,
                 20, "Apache")

    # -- test certificates (openssl CLI) ------------------------------------
    def _openssl(self, *args):
        r = subprocess.run(["openssl"] + list(args), capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (args[0], r.stderr[-2000:]))

    def test_ca(self):
        """A throw-away CA in the run directory, made on first use: its
        key never leaves the run directory and none is committed.
        Returns the CA certificate's path."""
        ca, key = self.path("tls", "ca.pem"), self.path("tls", "ca.key")
        if not os.path.exists(ca):
            os.makedirs(self.path("tls"), mode=0o700, exist_ok=True)
            # The workers load the CA when they connect (after the
            # drop); the keys here stay 0600, root's.
            readable_by_pool(self.path("tls"), 0o750)
            self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes",
                          "-days", "7", "-subj", "/CN=waba-connect test CA",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                          "-keyout", key, "-out", ca)
            os.chmod(key, 0o600)
            readable_by_pool(ca)
        return ca

    def tls_cert(self, name, san="IP:127.0.0.1"):
        """A server certificate issued by test_ca() for san (an openssl
        subjectAltName, e.g. "IP:127.0.0.1" or "DNS:example.invalid").
        Returns (certificate, key) paths."""
        ca = self.test_ca()
        d = self.path("tls")
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        if not os.path.exists(cert):
            csr, ext = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\n" % san)
            self._openssl("req", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:prime256v1", "-nodes",
                          "-subj", "/CN=" + san.split(":", 1)[1],
                          "-keyout", key, "-out", csr)
            os.chmod(key, 0o600)
            self._openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey",
                          os.path.join(d, "ca.key"), "-CAcreateserial",
                          "-days", "7", "-extfile", ext, "-out", cert)
        return cert, key

    # -- the Meta sandbox --------------------------------------------------
    def start_sandbox(self, port=None, tls=None):
        """The sandbox on port (a free one by default). tls: None for
        http, True for https with a certificate for 127.0.0.1 from
        test_ca(), or a (certificate, key) pair. With https, write_config
        points graph_base_url and dialog_base_url at https:// and sets
        [meta] ca_file to the test CA."""
        if not os.path.exists(SANDBOX):
            return False
        self.sandbox_port = port or self.sandbox_port or free_port()
        argv = [sys.executable, SANDBOX, "--listen",
                "127.0.0.1:%d" % self.sandbox_port,
                "--app-id", APP_ID,
                "--app-secret-file", self.path("app-secret"),
                "--app-name", "waba-connect demo",
                "--webhook-url", self.base_url + "/webhooks/meta"]
        if tls:
            cert, key = self.tls_cert("sandbox") if tls is True else tls
            argv += ["--tls-cert", cert, "--tls-key", key]
            self.sandbox_scheme, self.sandbox_ca = "https", self.test_ca()
        else:
            self.sandbox_scheme, self.sandbox_ca = "http", None
        self._spawn("sandbox", argv)
        wait_for(lambda: socket.create_connection(
            ("127.0.0.1", self.sandbox_port), 0.2).close() or True,
            20, "Meta sandbox")
        return True

    def stop_sandbox(self):
        self._stop("sandbox")

    # -- the admin tool ----------------------------------------------------
    def admin(self, *args, input=None, check=True):
        exe = binary("waba-connect-admin")
        r = subprocess.run([exe, "--config", self.config_path] + list(args),
                           input=input, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("admin %s: %s" % (" ".join(args), r.stderr))
        return r

    def close(self):
        for name in ("lighttpd", "apache", "pool", "sandbox"):
            self._stop(name)
        for name in [n for n in self.procs
                     if n.startswith("pool") or n.startswith("sender")]:
            self._stop(name)
        # Every MariaDB server last: the control one and any other.
        for name in [n for n in self.procs
                     if n.startswith("mariadb") or n.startswith("galera")]:
            self._stop(name, timeout=60)
        for d in self.cleanup:
            shutil.rmtree(d, ignore_errors=True)


API_SCOPES = ("connection:read", "messages:send", "templates:read",
              "templates:write", "media:write", "catalog:write",
              "events:read")


def demo():
    run = os.path.join(ROOT, "run", "demo")
    port = int(os.environ.get("WABA_DEMO_PORT", "8080"))
    st = Stack(run, port=port, workers=2)
    # The sandbox reads the app secret the config names; write it first.
    # A Facebook Login for Business configuration id (the sandbox takes
    # any): Connect opens the Embedded Signup popup, as with Meta.
    st.write_config(**{"meta.config_id": "778899001122334"})
    try:
        st.start_mariadb()
        st.start_sandbox(int(os.environ.get("WABA_DEMO_SANDBOX_PORT",
                                            "8089")))
        st.write_config()
        if not os.path.exists(st.path("keyring")):
            st.admin("keys", "init")
        st.admin("migrate")
        if "demo" not in st.admin("workspace", "list").stdout.split():
            st.admin("workspace", "add", "demo", "Demo Merchant")
        pw_file = st.path("demo-password")
        if not os.path.exists(pw_file):
            pw = secrets.token_urlsafe(9)
            st.admin("user", "add", "demo", "merchant@demo.example",
                     input=pw + "\n")
            with open(pw_file, "w") as f:
                f.write(pw)
        with open(pw_file) as f:
            login = ("merchant@demo.example", f.read().strip())
        # An internal API key for the README's curl walkthrough, made
        # once and kept beside the password (0600): the key is shown
        # only when it is made.
        key_file = st.path("demo-api-key")
        keys = json.loads(st.admin("api-key", "list", "--json").stdout)
        names = [k["name"] for k in keys]
        live = [k["name"] for k in keys if not k.get("revoked_at")
                and k["name"].startswith("demo-service")]
        if not os.path.exists(key_file) or not live:
            # A revoked key keeps its name: take the next free one.
            name, n = "demo-service", 1
            while name in names:
                n += 1
                name = "demo-service-%d" % n
            key = st.admin("api-key", "add", name, "--scopes",
                           ",".join(API_SCOPES), "--workspace",
                           "demo").stdout.strip()
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            with os.fdopen(fd, "w") as f:
                f.write(key + "\n")
        st.start_pool()
        st.start_lighttpd()
        print()
        print("waba-connect demo is running:")
        print("  %s/login" % st.base_url)
        print("  sign in as %s with password %s" % login)
        print("  health: %s/healthz" % st.base_url)
        print("  internal API key (all scopes, workspace demo): %s"
              % key_file)
        print("  Meta sandbox: http://127.0.0.1:%d/_sandbox/"
              % st.sandbox_port)
        print("  logs: %s/*.log" % run)
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        while all(p.poll() is None for p in st.procs.values()):
            time.sleep(0.5)
        print("a process stopped unexpectedly; see %s/*.log" % run)
    except KeyboardInterrupt:
        pass
    finally:
        # A second, impatient Ctrl-C must not leave parts running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nstopping...")
        st.close()
        print("stopped.")


if __name__ == "__main__":
    if sys.argv[1:] == ["demo"]:
        demo()
    else:
        print("usage: stack.py demo", file=sys.stderr)
        sys.exit(2)
