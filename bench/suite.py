#!/usr/bin/env python3
"""The side-by-side benchmark of issue 14: waba-connect's settings page
against lighttpd serving the same bytes (static), the same page in plain
PHP on PHP-FPM (peer), and the page's own SQL from a bare C client
(limit); durable webhook ingest with unique ids; the OAuth callback; and
the gateway and sender benches when their helpers exist.

usage: scripts/bench [SECONDS]        (default 10 per scenario)
       bench/suite.py --smoke         (scripts/test: 20 workspaces, 1 s
                                       each, only "runs, no errors")

The seeded workload (1,000 workspaces, each with a token stored by the
admin tool through the vault, a number, a catalog and 30 days of webhook
history) is made once and kept under bench/out/ (gitignored): a rerun
starts from the cached data directory in seconds. BENCH_EVENTS_PER_DAY
and BENCH_BUSY_PER_DAY change the history's size (the cache is keyed by
them).
"""
import hashlib
import hmac
import json
import os
import platform
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from stack import Stack, free_port, wait_for, readable_by_pool  # noqa: E402

WORKERS = 2          # the pool's workers, PHP-FPM's children, C's conns
CONNS = 16           # wrk's connections
PAGE = "/w/%s/settings/whatsapp"
WS_FMT = "ws%04d"


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


# -- the seeded workload ----------------------------------------------------
class Workload:
    def __init__(self, smoke):
        self.smoke = smoke
        self.n = 20 if smoke else int(os.environ.get("BENCH_WORKSPACES",
                                                      "1000"))
        self.busy = 2 if smoke else 10
        self.days = 2 if smoke else 30
        self.per_day = 50 if smoke else int(
            os.environ.get("BENCH_EVENTS_PER_DAY", "1000"))
        self.busy_day = 500 if smoke else int(
            os.environ.get("BENCH_BUSY_PER_DAY", "20000"))
        self.key = "%s-%d-%d-%d-%d-%d" % ("smoke" if smoke else "full",
                                         self.n, self.busy, self.days,
                                         self.per_day, self.busy_day)
        self.dir = os.path.join(HERE, "out", self.key)

    def slug(self, i):
        return WS_FMT % i

    def phone(self, i):
        return "10%013d" % i

    def is_busy(self, i):
        return i <= self.busy


def open_files():
    """The hard RLIMIT_NOFILE, what mariadbd may raise its own to (an
    unlimited one as Linux's default ceiling, fs.nr_open)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1048576 if hard == resource.RLIM_INFINITY else hard


def mariadb_sizing(wl):
    """mariadbd options for the full workload, as a server holding it would be
    set up. The test stack's server is sized for tests (a 64 MiB buffer
    pool, a 16 MiB redo log): over the full workload's 19 GB its pages
    were read again from the page cache on most requests (4.7 buffer
    pool misses a settings page, 9.5 a webhook delivery) and the small
    redo log's checkpoints flushed pages under every write (4 fsyncs a
    delivery instead of 1). 1,000 workspace databases of ~12 tables
    each also need table caches beyond MariaDB's defaults (2,000 open
    tables, 400 definitions), set before start so InnoDB's open files
    follow. Durability is not touched: innodb_flush_log_at_trx_commit
    stays at its default, 1. The smoke run's 20 workspaces keep the
    test stack's sizes."""
    if wl.smoke:
        return []
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) << 10
    pool = max(128 << 20, min(4 << 30, mem // 4)) & ~((128 << 20) - 1)
    return ["--innodb-buffer-pool-size=%d" % pool,
            "--innodb-log-file-size=%d" % min(1 << 30, pool // 4),
            # ~10,000 tables; a statement naming a table twice holds two
            # handles of it. MariaDB lowers table_open_cache to fit
            # open_files_limit, itself at most the hard RLIMIT_NOFILE
            # (20,000 on the bench's machine: 9,909 tables).
            "--open-files-limit=%d" % open_files(),
            "--table-open-cache=30000", "--table-definition-cache=20000"]


def make_stack(wl):
    st = Stack(wl.dir, workers=WORKERS)
    st.mariadb_args = mariadb_sizing(wl)
    saved = os.path.join(wl.dir, "bench-secrets.json")
    if os.path.exists(saved):
        with open(saved) as f:
            s = json.load(f)
        st.db_password, st.app_secret = s["db_password"], s["app_secret"]
        st.verify_token = s["verify_token"]
    st.write_config(**{"server.log_level": "warn",
                       "server.max_requests": 1000000})
    return st, saved


def seed(wl):
    """Makes wl.dir's data directory unless a complete one is there
    (marked by bench-secrets.json, written last). Seeding goes through
    the admin tool for everything the product writes itself (workspaces,
    users, tokens through the vault) and through bulk SQL for the
    history, as a year of deliveries would have left it."""
    if os.path.exists(os.path.join(wl.dir, "bench-secrets.json")):
        return
    shutil.rmtree(wl.dir, ignore_errors=True)
    st, saved = make_stack(wl)
    t0 = time.time()
    try:
        st.start_mariadb()
        st.admin("keys", "init")
        st.admin("migrate")
        errs = []

        def add(lo, hi):
            try:
                for i in range(lo, hi):
                    s = wl.slug(i)
                    st.admin("workspace", "add", s, "Workspace %d" % i)
                    st.admin("user", "add", s, "u%d@bench.example" % i,
                             input="bench password %06d\n" % i)
                    st.admin("token", "set", s, "waba",
                             input="EAAbench%s%s\n" % (i, secrets.token_hex(60)))
                    st.admin("token", "set", s, "catalog", "--catalog-id",
                             "77%010d" % i,
                             input="EAAcat%s%s\n" % (i, secrets.token_hex(60)))
            except Exception as e:  # noqa: BLE001 - reported below
                errs.append(e)
        half = wl.n // 2 + 1
        ts = [threading.Thread(target=add, args=r)
              for r in ((1, half), (half, wl.n + 1))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errs:
            raise errs[0]
        print("  %d workspaces, users and tokens in %.0f s" %
              (wl.n, time.time() - t0), flush=True)
        ids = dict(l.split("\t") for l in st.sql(
            "SELECT slug, id FROM workspaces", db="waba_control").split("\n")
            if l)
        for i in range(1, wl.n + 1):
            s, db = wl.slug(i), "waba_ws_%s" % ids[wl.slug(i)]
            waba, ph = "20%013d" % i, wl.phone(i)
            per = wl.busy_day if wl.is_busy(i) else wl.per_day
            n = per * wl.days
            step = wl.days * 86400 // n if n else 1
            st.sql(
                "UPDATE connection SET status = 'connected', reason = NULL, "
                "waba_id = '{w}', waba_ids = '{w}', phone_number_id = '{p}', "
                "display_phone_number = '+1 555 {d}', verified_name = "
                "'Shop {i}', quality_rating = 'GREEN', connected_at = "
                "UTC_TIMESTAMP() - INTERVAL 40 DAY, last_verified_at = "
                "UTC_TIMESTAMP();"
                "UPDATE catalog SET catalog_name = 'Catalog {i}';"
                "INSERT INTO phone_numbers (id, waba_id, display_phone_number,"
                " verified_name, quality_rating, fetched_at, state, "
                "is_default, added_at) VALUES ('{p}', '{w}', '+1 555 {d}', "
                "'Shop {i}', 'GREEN', UTC_TIMESTAMP(), 'active', 1, "
                "UTC_TIMESTAMP() - INTERVAL 40 DAY);"
                "INSERT INTO waba_control.webhook_routes VALUES "
                "('phone', '{p}', {id});"
                "INSERT INTO webhook_events (dedup_key, kind, "
                "phone_number_id, message_id, wa_from, body, received_at) "
                "SELECT CONCAT('m:wamid.seed', seq), 'message', '{p}', "
                "CONCAT('wamid.seed', seq), '16505551234', 'seeded history', "
                "UTC_TIMESTAMP() - INTERVAL (seq * {step}) SECOND "
                "FROM seq_1_to_{n};"
                "INSERT INTO webhook_hourly (hour, events, last_at) SELECT "
                "DATE_FORMAT(received_at, '%Y-%m-%d %H:00:00'), COUNT(*), "
                "MAX(received_at) FROM webhook_events GROUP BY 1;"
                .format(w=waba, p=ph, d=ph[-4:], i=i, id=ids[s], n=n,
                        step=step), db=db)
            if i % 100 == 0:
                print("  history: %d of %d workspaces (%.0f s)"
                      % (i, wl.n, time.time() - t0), flush=True)
        with open(saved, "w") as f:
            json.dump({"db_password": st.db_password,
                       "app_secret": st.app_secret,
                       "verify_token": st.verify_token,
                       "seeded_at": time.time()}, f)
        print("  seeded in %.0f s" % (time.time() - t0), flush=True)
    finally:
        st.close()


def sessions(st, wl):
    """One fresh session per workspace (the row a sign-in writes, made
    directly: signing in 1,000 times would measure the password hash).
    Returns [(slug, cookie)]."""
    st.sql("DELETE FROM sessions", db="waba_control")
    out, rows = [], []
    ids = dict(l.split("\t") for l in st.sql(
        "SELECT email, id FROM users", db="waba_control").split("\n") if l)
    for i in range(1, wl.n + 1):
        raw = secrets.token_bytes(32)
        rows.append("(X'%s', %s, '%s', UTC_TIMESTAMP(), UTC_TIMESTAMP(), "
                    "UTC_TIMESTAMP() + INTERVAL 1 DAY)" % (
                        hashlib.sha256(raw).hexdigest(),
                        ids["u%d@bench.example" % i], secrets.token_hex(32)))
        out.append((wl.slug(i), raw.hex()))
    for k in range(0, len(rows), 200):  # an argument is at most 128 KiB
        st.sql("INSERT INTO sessions (id_hash, user_id, csrf_token, "
               "created_at, last_seen_at, expires_at) VALUES " +
               ",".join(rows[k:k + 200]), db="waba_control")
    return out


def db_status(st):
    names = ("Questions", "Com_stmt_prepare", "Com_stmt_execute",
             "Com_stmt_close", "Opened_tables", "Opened_table_definitions",
             "Innodb_data_fsyncs")
    out = st.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ", ".join(
        "'%s'" % n for n in names))
    return {k: int(v) for k, v in (l.split("\t") for l in out.splitlines())}


def cpu_times():
    """The machine's CPU ticks so far (/proc/stat): busy, stolen by the
    hypervisor for other guests, and in all."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    v += [0] * (8 - len(v))  # user nice system idle iowait irq softirq steal
    return sum(v) - v[3] - v[4] - v[7], v[7], sum(v)


def cpu_note(a, b):
    """What the cores did between two cpu_times(): a tail that comes
    with a high steal is the virtual machine's, not the program's."""
    busy, steal, total = (y - x for x, y in zip(a, b))
    total = max(1, total)
    return "cpu busy %d%%, steal %d%%" % (100 * busy // total,
                                         100 * steal // total)


def fsync_probe(path, n=200):
    """p50 and p99 in ms of n 4 KiB writes each made durable with
    fdatasync, in path's filesystem (the data directory's): the least a
    durable commit waits for."""
    fn = os.path.join(path, "fsync-probe")
    fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    ts = []
    try:
        block = b"\0" * 4096
        for i in range(n):
            t = time.monotonic()
            os.pwrite(fd, block, (i % 64) * 4096)
            os.fdatasync(fd)
            ts.append((time.monotonic() - t) * 1000)
    finally:
        os.close(fd)
        os.unlink(fn)
    ts.sort()
    return ts[len(ts) // 2], ts[min(len(ts) - 1, len(ts) * 99 // 100)]


# -- wrk ----------------------------------------------------------------------
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, seconds, script=None, conns=CONNS, rate=None):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency",
            "--timeout", "5s"]
    if script:
        argv += ["-s", script]
    out = sh(argv + [url]).stdout
    r = {"out": out}
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for p in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        r["p" + p] = ms(*m.groups()) if m else float("nan")
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    r["max"] = ms(*m.groups()) if m else float("nan")
    n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                   r"timeout (\d+)", out)
    r["n"] = int(re.search(r"(\d+) requests in", out).group(1))
    r["errors"] = (int(n2.group(1)) if n2 else 0) + (
        sum(int(x) for x in se.groups()) if se else 0)
    return r


def warm(st, pairs, threads=4):
    """One page load per (workspace, session), threads at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def one(p):
        req = urllib.request.Request(
            st.base_url + PAGE % p[0],
            headers={"Cookie": "waba_session=" + p[1]})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, pairs))


def lua_sessions(path, pairs, name):
    """A wrk script picking a random (workspace, session) per request."""
    f = open(path, "w")
    f.write("local s = {\n")
    for slug, cookie in pairs:
        f.write('{"%s", "%s=%s"},\n' % (PAGE % slug, name, cookie))
    f.write("}\nmath.randomseed(os.time())\n"
            "request = function()\n"
            "  local p = s[math.random(#s)]\n"
            "  return wrk.format('GET', p[1], {Cookie = p[2]})\n"
            "end\n")
    f.close()
    return path


def rss_kib(pids):
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
                out.append(int(m.group(1)))
        except OSError:
            pass
    return max(out) if out else 0


def cpu_ticks(pids):
    """User and system ticks (1/100 s) the processes have used so far."""
    t = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                v = f.read().rsplit(")", 1)[1].split()
            t += int(v[11]) + int(v[12])
        except OSError:
            pass
    return t


# -- peer: the page in PHP on PHP-FPM -----------------------------------------
def php_fpm():
    for name in sorted(os.listdir("/usr/sbin"), reverse=True):
        if re.match(r"php-fpm\d", name):
            return "/usr/sbin/" + name
    return None


def start_peer(st, docroot):
    """PHP-FPM (WORKERS children, OPcache on) behind a second lighttpd
    with the shipped limits; its docroot also holds the static file."""
    exe = php_fpm()
    sock = st.path("php-fpm.sock")
    peer = os.path.join(HERE, "peer")
    conf = st.path("php-fpm.conf")
    with open(conf, "w") as f:
        f.write("""[global]
pid = {run}/php-fpm.pid
error_log = {run}/php-fpm.log
daemonize = no
[peer]
user = nobody
group = nogroup
listen = {sock}
listen.mode = 0666
pm = static
pm.max_children = {n}
pm.max_requests = 0
clear_env = no
env[WABA_DB_SOCKET] = {db}
env[WABA_DB_PASSWORD_FILE] = {run}/db-password
php_admin_value[opcache.enable] = 1
php_admin_value[opcache.validate_timestamps] = 0
php_admin_value[error_log] = {run}/php-error.log
""".format(run=st.run, sock=sock, n=WORKERS, db=st.db_socket))
    st._spawn("php-fpm", [exe, "-R", "-F", "-y", conf,
                          "-d", "opcache.enable=1"])
    wait_for(lambda: os.path.exists(sock), 20, "php-fpm")
    port = free_port()
    lconf = st.path("lighttpd-peer.conf")
    with open(lconf, "w") as f:
        f.write("""
server.modules = ( "mod_rewrite", "mod_fastcgi" )
server.document-root = "{doc}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{run}/lighttpd-peer.pid"
server.errorlog = "{run}/lighttpd-peer-error.log"
mimetype.assign = ( ".html" => "text/html; charset=utf-8" )
# Every /w/... request to the one front controller, as a framework's
# public/index.php.
url.rewrite-once = ( "^/w/(.*)$" => "/index.php/w/$1" )
fastcgi.server = ( ".php" => ((
  "socket" => "{sock}",
  "check-local" => "disable",
)))
""".format(doc=docroot, port=port, run=st.run, sock=sock))
    shutil.copyfile(os.path.join(peer, "index.php"),
                    os.path.join(docroot, "index.php"))
    os.chmod(os.path.join(docroot, "index.php"), 0o644)
    st._spawn("lighttpd-peer", ["lighttpd", "-D", "-f", lconf])
    wait_for(lambda: __import__("socket").create_connection(
        ("127.0.0.1", port), 0.2).close() or True, 20, "lighttpd (peer)")
    return port


# -- the C limit client -------------------------------------------------------
def page_sql(st, wl, pairs):
    """The two statements one settings request runs, read from the
    server's general log while the pool serves one page: the gate's
    (prepared) and store_conn_page's (a plain query), exactly as the
    code builds them today."""
    st.sql("SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; "
           "SET GLOBAL general_log = 1")

    slug, cookie = pairs[-1]
    req = urllib.request.Request(st.base_url + PAGE % slug,
                                 headers={"Cookie": "waba_session=" + cookie})
    page = urllib.request.urlopen(req).read()
    st.sql("SET GLOBAL general_log = 0")
    rows = st.sql("SELECT argument FROM mysql.general_log WHERE "
                  "command_type IN ('Prepare', 'Query')")
    gate = psql = None
    for line in rows.split("\n"):
        if "sessions s JOIN" in line:
            gate = line
        elif "connection c LEFT JOIN" in line:
            psql = line
    db = st.sql("SELECT db_name FROM workspaces WHERE slug = '%s'" % slug,
                db="waba_control").strip()
    if gate is None or psql is None:
        raise RuntimeError("the page's statements were not in the log")
    return gate, psql.replace("`%s`" % db, "`@DB@`"), page


def build_c(name, flags):
    """bench/NAME.c built into bench/out/NAME when older than its source."""
    src = os.path.join(HERE, name + ".c")
    exe = os.path.join(HERE, "out", name)
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        r = sh(["cc", "-O2", "-Wall", "-o", exe, src] + flags)
        if r.returncode:
            raise RuntimeError("bench/%s.c: %s" % (name, r.stderr))
    return exe


def build_limit():
    return build_c("limit", ["-lpthread"] + sh(
        ["mariadb_config", "--cflags", "--libs"]).stdout.split())


def openloop(st, pairs, path, rate, seconds, conns=64):
    """bench/openloop.c: the settings page at a fixed rate, each
    request's latency from when it was due (no coordinated omission)."""
    with open(path, "w") as f:
        for slug, cookie in pairs:
            f.write("%s%s\twaba_session=%s\n" % (st.base_url, PAGE % slug,
                                                 cookie))
    out = sh([build_c("openloop", ["-lcurl"]), "%.0f" % rate, str(seconds),
              str(conns), path])
    if out.returncode:
        raise RuntimeError("openloop: " + out.stderr)
    r = json.loads(out.stdout)
    r["rps"] = r.pop("reached")
    return r


# -- webhook ------------------------------------------------------------------
def webhook_script(st, wl, path, count, run_id):
    """count signed deliveries, each with its own message id, spread over
    the workspaces' numbers; wrk's threads take alternate ones, none
    twice (a thread that runs out stops)."""
    with open(path + ".data", "w") as f:
        for k in range(count):
            i = k % wl.n + 1
            mid = "wamid.b%s.%d" % (run_id, k)
            body = json.dumps({"object": "whatsapp_business_account",
                               "entry": [{"id": "20%013d" % i, "changes": [{
                                   "field": "messages", "value": {
                                       "messaging_product": "whatsapp",
                                       "metadata": {
                                           "display_phone_number": "1555%d" % i,
                                           "phone_number_id": wl.phone(i)},
                                       "messages": [{
                                           "from": "16505551234", "id": mid,
                                           "timestamp": str(int(time.time())),
                                           "type": "text",
                                           "text": {"body": "bench %d" % k}}]}}]}]},
                              separators=(",", ":"))
            sig = hmac.new(st.app_secret.encode(), body.encode(),
                           hashlib.sha256).hexdigest()
            f.write("sha256=%s %s\n" % (sig, body))
    with open(path, "w") as f:
        f.write("""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  bodies, sigs, k = {}, {}, 0
  local n = 0
  for line in io.lines("%s") do
    if n %% 2 == id then
      local sp = line:find(" ")
      table.insert(sigs, line:sub(1, sp - 1))
      table.insert(bodies, line:sub(sp + 1))
    end
    n = n + 1
  end
  acked = 0
end
function request()
  k = k + 1
  if k > #bodies then wrk.thread:stop() k = #bodies end
  return wrk.format("POST", "/webhooks/meta",
    {["Content-Type"] = "application/json",
     ["X-Hub-Signature-256"] = sigs[k]}, bodies[k])
end
function response(status, headers, body)
  if status == 200 then acked = acked + 1 end
end
function done(summary, latency, requests)
  local a = 0
  for _, t in ipairs(threads) do a = a + t:get("acked") end
  io.write(string.format("acked %%d\\n", a))
end
""" % (path + ".data"))
    return path


def stored(st, run_id):
    """(rows, distinct ids) of this run's deliveries over every workspace."""
    dbs = st.sql("SELECT db_name FROM workspaces", db="waba_control").split()
    parts = ["SELECT message_id FROM `%s`.webhook_events WHERE message_id "
             "LIKE 'wamid.b%s.%%'" % (d, run_id) for d in dbs]
    total = distinct = 0
    for k in range(0, len(parts), 200):
        out = st.sql("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM (%s) x"
                     % " UNION ALL ".join(parts[k:k + 200])).split()
        total += int(out[0])
        distinct += int(out[1])
    return total, distinct


def fsyncs(before, after, acked, c0, c1):
    """A webhook run's fsyncs a delivery (fewer than one: concurrent
    commits shared them) and what the cores did meanwhile."""
    return "%.2f fsyncs a delivery, %s" % (
        (after["Innodb_data_fsyncs"] - before["Innodb_data_fsyncs"]) /
        max(1, acked), cpu_note(c0, c1))


def delivered_once(st, r, run_id):
    """(acked, stored, distinct, ok) of a webhook run: every acknowledged
    delivery stored, none twice. wrk drops the requests in flight when
    its time is up: those may be stored unacknowledged (at most one per
    connection)."""
    acked = int(re.search(r"acked (\d+)", r["out"]).group(1))
    total, distinct = stored(st, run_id)
    return (acked, total, distinct,
            total == distinct and acked <= total <= acked + CONNS)


def soak(st, wl, tmp, settings_lua, per_worker, seconds_max, chunk):
    """The RSS target's measure: a fresh pool of WORKERS workers answers
    settings pages (random workspaces) and unique webhook deliveries in
    alternating chunks of `chunk` seconds until it has answered
    per_worker x WORKERS requests or seconds_max have passed. The
    largest worker RSS is read after every chunk; the workers must be
    the same processes at the end (none crashed or recycled) and every
    acknowledged delivery stored once. Returns a row and the samples
    [(requests so far, KiB)]."""
    st.stop_pool()
    st.start_pool()
    pids = sorted(st.worker_pids())
    samples = [(0, rss_kib(pids))]
    target = per_worker * WORKERS
    n = errors = k = 0
    p50s, p99s, maxes, problems = [], [], [], []
    t0 = time.time()
    while n < target and time.time() - t0 < seconds_max:
        if k % 2 == 0:
            r = wrk(st.base_url + "/", chunk, settings_lua)
        else:
            run_id = secrets.token_hex(4)
            r = wrk(st.base_url + "/webhooks/meta", chunk, webhook_script(
                st, wl, os.path.join(tmp, "soak%d.lua" % k), 4000 * chunk,
                run_id))
            acked, total, distinct, ok = delivered_once(st, r, run_id)
            if not ok:
                problems.append("chunk %d: acked %d stored %d distinct %d"
                                % (k, acked, total, distinct))
        n += r["n"]
        errors += r["errors"]
        p50s.append(r["p50"])
        p99s.append(r["p99"])
        maxes.append(r["max"])
        samples.append((n, rss_kib(pids)))
        k += 1
    elapsed = time.time() - t0
    if sorted(st.worker_pids()) != pids:
        problems.append("the workers changed (a crash or a recycle)")
    if n < target:
        problems.append("%d requests of %d in %.0f s" % (n, target, elapsed))
    row = {"rps": n / elapsed, "p50": sorted(p50s)[len(p50s) // 2],
           "p99": max(p99s), "max": max(maxes), "errors": errors, "n": n,
           "problems": problems}
    return row, samples


# -- callback: the OAuth callback against the sandbox -------------------------
class TimingProxy:
    """Between the pool and the sandbox: forwards every Graph call and
    records when each was in the sandbox's hands, from the proxy having
    its request line to the answer written back (the proxy's own
    parsing and writing included: Python's http.server takes a good
    part of a millisecond a call, which is not ours), so what is left
    of a callback is surely ours."""

    def __init__(self, upstream_port):
        import http.client
        import http.server
        self.spans = []
        lock = threading.Lock()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                # Headers and body go in two writes: without NODELAY,
                # Nagle holds the body for the client's delayed ACK
                # (40 ms a call, counted as ours).
                super().setup()
                import socket
                self.connection.setsockopt(socket.IPPROTO_TCP,
                                           socket.TCP_NODELAY, 1)

            def parse_request(self):
                # Called as soon as the request line is in.
                self.t0 = time.monotonic()
                return super().parse_request()

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                t0 = self.t0
                c = http.client.HTTPConnection("127.0.0.1", upstream_port,
                                               timeout=30)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("connection", "keep-alive")}
                c.request(self.command, self.path, body, hdrs)
                r = c.getresponse()
                data = r.read()
                c.close()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection",
                                         "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                with lock:
                    proxy.spans.append((t0, time.monotonic()))
            do_GET = do_POST = do_DELETE = do_PUT = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def within(self, a, b):
        return sum(min(e, b) - max(s, a) for s, e in list(self.spans)
                   if e > a and s < b)


def callbacks(st, proxy, slug, cookie, n):
    """n Connect flows for slug: Connect, the sandbox's dialog, then the
    callback timed, the sandbox's share taken off; then n // 10 more,
    untimed, each callback between readings of MariaDB's counters and
    the processes' CPU (reading them takes a client and a statement of
    its own: around a timed callback they slowed it). Returns a result."""
    from client import Browser
    from meta import Sandbox, csrf, settings_path
    sb = Sandbox(st.sandbox_port, st.app_secret)
    b = Browser(st.port)
    b.jar["waba_session"] = cookie
    own, total, errors = [], [], 0
    stmts = syncs = 0
    with open(st.path("mariadb.pid")) as f:
        pids = [int(f.read())] + st.worker_pids()
    cpu = {"db": 0, "pool": 0}
    counted, el = 0, None
    t_all = time.monotonic()
    for i in range(n + max(5, n // 10)):
        if i == n:  # the timed flows' rate: up to here
            el = time.monotonic() - t_all
        page = b.get(settings_path(slug))
        r = b.post(settings_path(slug) + "/connect",
                   {"csrf_token": csrf(page)})
        if r.status != 303:
            errors += 1
            continue
        cb = sb.decide(r.header("Location"))
        if i >= n:
            before = db_status(st)
            c0 = cpu_ticks(pids[:1]), cpu_ticks(pids[1:])
            r = b.get(cb)
            c1 = cpu_ticks(pids[:1]), cpu_ticks(pids[1:])
            after = db_status(st)
            if r.status not in (200, 303):
                errors += 1
                continue
            cpu["db"] += c1[0] - c0[0]
            cpu["pool"] += c1[1] - c0[1]
            # Questions counts the second SHOW STATUS too: one off.
            stmts += after["Questions"] - before["Questions"] - 1
            syncs += (after["Innodb_data_fsyncs"] -
                      before["Innodb_data_fsyncs"])
            counted += 1
            continue
        t0 = time.monotonic()
        r = b.get(cb)
        t1 = time.monotonic()
        if r.status not in (200, 303):
            errors += 1
            continue
        total.append((t1 - t0) * 1000)
        own.append((t1 - t0 - proxy.within(t0, t1)) * 1000)
    own.sort()
    counted = max(1, counted)
    if el is None:
        el = time.monotonic() - t_all
    if not own:
        return {"rps": 0, "p50": 0, "p99": 0, "max": 0, "n": 0,
                "errors": errors or 1}
    return {"rps": len(own) / el, "p50": own[len(own) // 2],
            "p99": own[min(len(own) - 1, len(own) * 99 // 100)],
            "max": own[-1], "n": len(own), "errors": errors,
            "total_p50": sorted(total)[len(total) // 2],
            "stmts": stmts / counted, "fsyncs": syncs / counted,
            "db_cpu_ms": cpu["db"] * 10.0 / counted,
            "pool_cpu_ms": cpu["pool"] * 10.0 / counted}


# -- the run ------------------------------------------------------------------
def versions():
    def first(argv):
        try:
            return sh(argv).stdout.strip().split("\n")[0] or sh(
                argv).stderr.strip().split("\n")[0]
        except OSError:
            return "missing"
    return {
        "kernel": platform.release(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "mariadb": first(["mariadbd", "--version"]),
        "lighttpd": first(["lighttpd", "-v"]),
        "php-fpm": first([php_fpm() or "php-fpm", "-v"]),
        "wrk": first(["wrk", "-v"]),
        "waba-connect": sh(["git", "-C", ROOT, "describe", "--always",
                            "--dirty"]).stdout.strip(),
    }


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    smoke = "--smoke" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = int(args[0]) if args else (1 if smoke else 10)
    wl = Workload(smoke)
    print("seeding %s (cached in %s)" % (wl.key, wl.dir), flush=True)
    seed(wl)
    st, _ = make_stack(wl)
    results, notes = [], []
    # The disk's own time for a durable write, beside the table: what
    # each commit of the webhook and callback rows waits for at least.
    p50, p99 = fsync_probe(wl.dir)
    notes.append("disk: a 4 KiB write and fdatasync p50 %.2f ms, p99 %.2f "
                 "ms (200, in the data directory's filesystem)" % (p50, p99))
    failed = []
    try:
        st.start_mariadb()
        st.admin("migrate")
        pairs = sessions(st, wl)
        st.start_pool()
        st.start_lighttpd()
        tmp = tempfile.mkdtemp(prefix="bench-", dir=st.run)
        st.cleanup.append(tmp)
        os.chmod(tmp, 0o755)
        script = lua_sessions(os.path.join(tmp, "settings.lua"), pairs,
                              "waba_session")
        # The page's statements, from its first request (prepared then).
        gate, psql, page = page_sql(st, wl, pairs)
        docroot = os.path.join(tmp, "doc")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "page.html"), "wb") as f:
            f.write(page)
        os.chmod(docroot, 0o755)
        os.chmod(os.path.join(docroot, "page.html"), 0o644)
        peer_port = start_peer(st, docroot) if php_fpm() else None

        def row(name, r, rss, note=""):
            r.update(name=name, rss=rss, note=note)
            results.append(r)
            print("  %-10s %9.0f req/s  p50 %6.2f  p99 %6.2f  max %7.2f ms  "
                  "errors %d  rss %s  %s" % (name, r["rps"], r["p50"],
                                             r["p99"], r["max"], r["errors"],
                                             rss, note), flush=True)
            if r["errors"] or r["n"] == 0:
                failed.append(name)

        def kib(v):
            return "%.1f MiB" % (v / 1024.0) if v else "-"

        # static: the front server's limit for these bytes.
        if peer_port:
            r = wrk("http://127.0.0.1:%d/page.html" % peer_port, seconds)
            row("static", r, "-", "%d bytes" % len(page))
        # Every workspace's page once first: a server in steady state
        # has its tables open (a first run counted 8.5 table opens and
        # 2.6 definition reads per page over 1,000 workspaces, 243
        # req/s: a measure of MariaDB's cold start, not of the page).
        warm(st, pairs)
        # settings: random workspaces, busy ones among them; what
        # MariaDB counted per request beside it.
        before = db_status(st)
        r = wrk(st.base_url + "/", seconds, script)
        after = db_status(st)
        per = {k: (after[k] - before[k]) / max(1, r["n"]) for k in after}
        row("settings", r, kib(rss_kib(st.worker_pids())),
            "per request: %s" % ", ".join("%s %.2f" % (k.replace("Com_", ""), v)
                                          for k, v in sorted(per.items())))
        # settings at half that rate, open loop: the p99 target's
        # measure (wrk's closed loop queues 16 requests on 2 workers).
        c0 = cpu_times()
        half = openloop(st, pairs, os.path.join(tmp, "half.txt"),
                        r["rps"] / 2, seconds)
        row("s-half", half, kib(rss_kib(st.worker_pids())),
            "open loop at %d req/s (half of settings), latency from each "
            "request's due time; %s" % (half["rate"],
                                        cpu_note(c0, cpu_times())))
        # busy and quiet alone, alternating three times each: a single
        # turn of each swung 0.78-1.26 on a loaded machine; the ratio is
        # of the medians.
        busy = [p for p in pairs if int(p[0][2:]) <= wl.busy]
        quiet = [p for p in pairs if int(p[0][2:]) > wl.busy][:len(busy) * 5]
        bq = {"quiet": [], "busy": []}
        lua = {name: lua_sessions(os.path.join(tmp, name + ".lua"), sel,
                                  "waba_session")
               for name, sel in (("quiet", quiet), ("busy", busy))}
        for _ in range(3):
            for name in ("quiet", "busy"):
                bq[name].append(wrk(st.base_url + "/",
                                    max(1, seconds // 3), lua[name]))
        for name in ("quiet", "busy"):
            turns = sorted(bq[name], key=lambda x: x["rps"])
            med = dict(turns[1])
            med["errors"] = sum(x["errors"] for x in turns)
            med["n"] = sum(x["n"] for x in turns)
            row("s-" + name, med, kib(rss_kib(st.worker_pids())),
                "median of 3 turns: %s req/s" % ", ".join(
                    "%.0f" % x["rps"] for x in bq[name]))
        # peer: the PHP page, same sessions.
        if peer_port:
            pscript = lua_sessions(os.path.join(tmp, "peer.lua"), pairs,
                                   "waba_session")
            r = wrk("http://127.0.0.1:%d/" % peer_port, seconds, pscript)
            fpm = [int(x) for x in sh(["pgrep", "-f", "php-fpm: pool peer"]
                                      ).stdout.split()]
            row("peer", r, kib(rss_kib(fpm)))
            with open(os.path.join(tmp, "peer.html"), "wb") as f:
                f.write(urllib.request.urlopen(urllib.request.Request(
                    "http://127.0.0.1:%d" % peer_port + PAGE % pairs[0][0],
                    headers={"Cookie": "waba_session=" + pairs[0][1]})).read())
        else:
            # scripts/bench installs it (scripts/deps bench): a table
            # without the peer is not the table.
            notes.append("peer: no php-fpm installed")
            failed.append("peer")
        # limit: the page's own two statements from C, WORKERS connections.
        # Kept (not in tmp): the statements the limit ran, to rerun it.
        with open(st.path("limit.sql"), "w") as f:
            f.write(gate + "\n" + psql + "\n")
        with open(st.path("limit.sessions"), "w") as f:
            dbs = dict(l.split("\t") for l in st.sql(
                "SELECT slug, db_name FROM workspaces",
                db="waba_control").split("\n") if l)
            for slug, cookie in pairs:
                f.write("%s %s %s\n" % (slug, dbs[slug], hashlib.sha256(
                    bytes.fromhex(cookie)).hexdigest()))
        out = sh([build_limit(), st.db_socket, "waba", st.db_password,
                  st.path("limit.sql"),
                  st.path("limit.sessions"), str(WORKERS),
                  str(seconds)])
        if out.returncode:
            raise RuntimeError("limit: " + out.stderr)
        r = json.loads(out.stdout)
        r["errors"] = r.pop("errors")
        row("limit", r, "-", "%d conns" % WORKERS)
        # webhook: unique signed deliveries, then exactly once.
        run_id = secrets.token_hex(4)
        count = 2000 if smoke else 8000 * seconds
        ws = webhook_script(st, wl, os.path.join(tmp, "webhook.lua"), count,
                            run_id)
        before, c0 = db_status(st), cpu_times()
        r = wrk(st.base_url + "/webhooks/meta", seconds, ws)
        after, c1 = db_status(st), cpu_times()
        acked, total, distinct, ok = delivered_once(st, r, run_id)
        row("webhook", r, kib(rss_kib(st.worker_pids())),
            "acked %d stored %d distinct %d %s; %s" % (
                acked, total, distinct, "once each" if ok else "MISMATCH",
                fsyncs(before, after, acked, c0, c1)))
        if not ok:
            failed.append("webhook exactly-once")
        # The same with 8 workers: 8 commits in flight share each fsync
        # (InnoDB's group commit), durability unchanged
        # (innodb_flush_log_at_trx_commit = 1, the 200 after the commit).
        st.stop_pool()
        st.start_pool(workers=8)
        run_id = secrets.token_hex(4)
        ws = webhook_script(st, wl, os.path.join(tmp, "webhook8.lua"), count,
                            run_id)
        before, c0 = db_status(st), cpu_times()
        r = wrk(st.base_url + "/webhooks/meta", seconds, ws)
        after, c1 = db_status(st), cpu_times()
        acked, total, distinct, ok = delivered_once(st, r, run_id)
        row("webhook-8w", r, kib(rss_kib(st.worker_pids())),
            "8 workers; acked %d stored %d distinct %d %s; %s" % (
                acked, total, distinct, "once each" if ok else "MISMATCH",
                fsyncs(before, after, acked, c0, c1)))
        if not ok:
            failed.append("webhook-8w exactly-once")
        st.stop_pool()
        st.start_pool()
        # gateway and sender: the other issues' benches, when present.
        for name in ("gateway", "sender"):
            exe = os.path.join(HERE, name + ".py")
            if not os.path.exists(exe):
                print("  %-10s not built" % name)
                notes.append("%s: not built (bench/%s.py missing)" % (name,
                                                                     name))
                failed.append(name)
                continue
            r = sh([sys.executable, exe, str(seconds)] +
                   (["--smoke"] if smoke else []), timeout=600)
            print(r.stdout)
            if r.returncode == 3:
                notes.append("%s: target missed" % name)
            elif r.returncode:
                print(r.stderr[-3000:])
                failed.append(name)
            # Its last line is its figures as one JSON object.
            notes.append("%s: %s" % (name, (r.stdout.strip().split("\n")
                                            or [""])[-1]))
        # callback: last, on a workspace of its own (a Connect replaces
        # the connection and its routes).
        cb_slug = "cb" + secrets.token_hex(4)
        st.admin("workspace", "add", cb_slug, "Callback bench")
        st.admin("user", "add", cb_slug, "u1@bench.example")
        st.start_sandbox()
        proxy = TimingProxy(st.sandbox_port)
        st.write_config(**{"meta.graph_base_url":
                           "http://127.0.0.1:%d" % proxy.port})
        st.stop_pool()
        st.start_pool()
        r = callbacks(st, proxy, cb_slug, pairs[0][1], 20 if smoke else 200)
        row("callback", r, kib(rss_kib(st.worker_pids())),
            "own time (sandbox's taken off); whole callback p50 %.2f ms; "
            "per callback %.1f statements, %.1f fsyncs, CPU MariaDB %.2f ms, "
            "workers %.2f ms"
            % (r.get("total_p50", 0), r.get("stmts", 0), r.get("fsyncs", 0),
               r.get("db_cpu_ms", 0), r.get("pool_cpu_ms", 0)))
        proxy.server.shutdown()
        # soak: 100,000 requests a worker, RSS after every chunk.
        r, samples = soak(st, wl, tmp, script, 1000 if smoke else 100000,
                          120 if smoke else 600, 1 if smoke else 10)
        grow = samples[-1][1] - min(v for _, v in samples[2:] or samples)
        row("soak", r, kib(samples[-1][1]),
            "%d requests to %d workers (settings and webhooks by turns), "
            "largest worker RSS MiB after 0/%s: %s; growth after the first "
            "two turns %+d KiB%s" % (
                r["n"], WORKERS, "/".join("%dk" % (c // 1000)
                                          for c, _ in samples[1:]),
                "/".join("%.1f" % (v / 1024.0) for _, v in samples), grow,
                "".join("; " + p for p in r["problems"])))
        if r["problems"]:
            failed.append("soak")
        final_rss = rss_kib(st.worker_pids())
        served = r["n"]  # the soak's pool: started for it
    finally:
        for name in ("lighttpd-peer", "php-fpm"):
            st._stop(name)
        st.close()

    by = {r["name"]: r for r in results}

    def ratio(a, b):
        if a in by and b in by and by[b]["rps"]:
            return by[a]["rps"] / by[b]["rps"]
        return float("nan")
    ratios = [("settings/static", ratio("settings", "static")),
              ("settings/peer", ratio("settings", "peer")),
              ("settings/limit", ratio("settings", "limit")),
              ("webhook/limit", ratio("webhook", "limit")),
              ("webhook-8w/limit", ratio("webhook-8w", "limit")),
              ("busy/quiet", ratio("s-busy", "s-quiet"))]
    table = ["| scenario | req/s | p50 ms | p99 ms | max ms | errors | "
             "worker RSS | note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        table.append("| %s | %.0f | %.2f | %.2f | %.2f | %d | %s | %s |" % (
            r["name"], r["rps"], r["p50"], r["p99"], r["max"], r["errors"],
            r["rss"], r["note"]))
    rat = ["| ratio | value |", "|---|---:|"] + [
        "| %s | %.2f |" % kv for kv in ratios]
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(rat))
    print("load average after: %s; worker RSS at the end %.1f MiB (after "
          "%d requests to the soak's workers)" % (load(), final_rss / 1024.0, served))
    for n in notes:
        print("  " + n)
    if not smoke:
        write_results(wl, seconds, table, rat, notes, final_rss, served)
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


def write_results(wl, seconds, table, rat, notes, final_rss, served):
    v = versions()
    path = os.path.join(HERE, "RESULTS.md")
    head, tail = "", ""
    if os.path.exists(path):
        text = open(path).read()
        a = text.find("<!-- run -->")
        b = text.find("<!-- /run -->")
        if a != -1 and b != -1:
            head, tail = text[:a], text[b + len("<!-- /run -->"):]
    if not head:
        head = "# Benchmark results\n\nMade by `scripts/bench` (bench/suite.py).\n\n"
    run = ["<!-- run -->", "## Latest run", "",
           "Command: `scripts/bench %d` on %s UTC; load average at the end %s."
           % (seconds, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), load()),
           "", "Workload: %d workspaces (%d busy), %d days of history, %d "
           "events a day (busy: %d)." % (wl.n, wl.busy, wl.days, wl.per_day,
                                         wl.busy_day), "",
           "Machine: " + ", ".join("%s %s" % kv for kv in v.items()), "",
           ] + table + [""] + rat + [
        "", "Worker RSS at the end of the run: %.1f MiB, after %d requests "
        "to the same workers (the soak's)." % (final_rss / 1024.0, served),
        ""]
    run += ["- " + n for n in notes] + ["", "<!-- /run -->"]
    with open(path, "w") as f:
        f.write(head + "\n".join(run) + tail)


if __name__ == "__main__":
    sys.exit(main())
