"""Issue 3: sign-in, sessions, authorization and CSRF, against the real stack."""
import re
import time

from base import StackCase
from client import Browser, FastCGIRequest, request

PW_A = "correct horse battery staple"
PW_B = "another long password 42"


def login_token(page):
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    return m.group(1) if m else None


class Auth(StackCase):
    workers = 2

    @classmethod
    def setUpStack(cls):
        st = cls.st
        st.admin("workspace", "add", "acme", "Acme & Sons <Ltd>")
        st.admin("workspace", "add", "beta", "Beta GmbH")
        st.admin("user", "add", "acme", "alice@acme.example", input=PW_A + "\n")
        st.admin("user", "add", "beta", "bob@beta.example", input=PW_B + "\n")

    def sign_in(self, email, password):
        b = Browser(self.port)
        page = b.get("/login")
        self.assertEqual(page.status, 200)
        r = b.post("/login", {"csrf_token": login_token(page),
                              "email": email, "password": password})
        return b, r

    def session_cookie(self, r):
        for c in r.cookies():
            if c.startswith("waba_session=") and "Max-Age=0" not in c:
                return c
        return None

    def test_login_lands_on_own_settings(self):
        b, r = self.sign_in("alice@acme.example", PW_A)
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/w/acme/settings/whatsapp")
        page = b.get("/w/acme/settings/whatsapp")
        self.assertEqual(page.status, 200)
        # The workspace name is escaped, and the status comes from the DB.
        self.assertIn("Acme &amp; Sons &lt;Ltd&gt;", page.text)
        self.assertIn("Not connected", page.text)
        self.assertIn("alice@acme.example", page.text)
        # Already signed in: /login sends you home.
        self.assertEqual(b.get("/login").status, 303)

    def test_email_is_case_insensitive(self):
        _, r = self.sign_in("Alice@ACME.example", PW_A)
        self.assertEqual(r.status, 303)

    def test_cookie_flags_and_new_id_at_login(self):
        b = Browser(self.port)
        page = b.get("/login")
        b.jar["waba_session"] = "ab" * 32          # planted by an attacker
        r = b.post("/login", {"csrf_token": login_token(page),
                              "email": "alice@acme.example", "password": PW_A})
        self.assertEqual(r.status, 303)
        c = self.session_cookie(r)
        self.assertIsNotNone(c)
        self.assertRegex(c, r"^waba_session=[0-9a-f]{64};")
        self.assertNotIn("ab" * 32, c)
        for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(flag, c)
        self.assertNotIn("Secure", c)   # base_url is http here
        # Only the hash is stored.
        sid = c.split("=", 1)[1].split(";")[0]
        dump = self.st.sql("SELECT HEX(id_hash) FROM waba_control.sessions")
        self.assertNotIn(sid.upper(), dump)
        self.assertIn(__import__("hashlib").sha256(
            bytes.fromhex(sid)).hexdigest().upper(), dump)

    def test_wrong_password_and_unknown_email_look_the_same(self):
        _, r1 = self.sign_in("alice@acme.example", "wrong password!!")
        _, r2 = self.sign_in("nobody@acme.example", "wrong password!!")
        self.assertEqual(r1.status, r2.status)
        self.assertEqual(r1.status, 401)

        def norm(r):
            t = r.text.replace("alice@acme.example", "E")
            t = t.replace("nobody@acme.example", "E")
            return re.sub(r'value="[0-9a-f]{64}"', 'value="T"', t)
        self.assertEqual(norm(r1), norm(r2))
        self.assertIn("do not match", r1.text)

    def test_login_without_form_token_is_403(self):
        r = request(self.port, "POST", "/login",
                    body={"email": "alice@acme.example", "password": PW_A})
        self.assertEqual(r.status, 403)
        self.assertIsNone(self.session_cookie(r))

    def test_eleventh_failure_is_throttled(self):
        email = "throttle@acme.example"
        self.st.admin("user", "add", "acme", email, input=PW_A + "\n")
        for i in range(10):
            _, r = self.sign_in(email, "not the password %d" % i)
            self.assertEqual(r.status, 401, i)
        _, r = self.sign_in(email, "not the password 11")
        self.assertEqual(r.status, 429)
        self.assertIn("Too many failed sign-in attempts", r.text)
        # Even the right password is refused while throttled.
        _, r = self.sign_in(email, PW_A)
        self.assertEqual(r.status, 429)

    def test_session_found_behind_many_cookies(self):
        # Issue 8 item 5: other applications on the host set cookies;
        # ours come last, after far more than 64 others (some quoted).
        b, r = self.sign_in("alice@acme.example", PW_A)
        self.assertEqual(r.status, 303)
        others = ["other%d=%s" % (i, '"quoted-%d"' % i if i % 3 else
                                  "v%030d" % i) for i in range(120)]
        ours = ["%s=%s" % kv for kv in b.jar.items()]
        cookie = "; ".join(others + ours)
        self.assertGreater(len(cookie), 3000)
        r = request(self.port, "GET", "/w/acme/settings/whatsapp",
                    headers={"Cookie": cookie})
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIn("alice@acme.example", r.text)

    def test_encoded_slash_in_path_is_400(self):
        # Issue 8 item 6: through lighttpd, which passes REQUEST_URI as
        # sent; the app refuses it whatever the web server made of it.
        b, r = self.sign_in("alice@acme.example", PW_A)
        for path in ("/w/acme%2Fsettings/whatsapp",
                     "/w/acme%2fsettings/whatsapp",
                     "/w/acme/settings%2Fwhatsapp"):
            r = b.get(path)
            self.assertEqual(r.status, 400, path)
        # In the query string an encoded slash is just data.
        self.assertEqual(b.get("/w/acme/settings/whatsapp?x=%2F").status,
                         200)

    def test_other_workspace_is_404(self):
        b, _ = self.sign_in("alice@acme.example", PW_A)
        theirs = b.get("/w/beta/settings/whatsapp")
        missing = b.get("/w/no-such-ws/settings/whatsapp")
        self.assertEqual(theirs.status, 404)
        self.assertEqual(missing.status, 404)
        # The same page but for each request's own id (its reference).
        ref = re.compile(r'<code id="request-id">[\w.:-]+</code>')
        self.assertEqual(ref.sub("", theirs.text), ref.sub("", missing.text))
        self.assertNotEqual(ref.findall(theirs.text), [])
        self.assertNotIn("Beta", theirs.text)

    def test_without_session_redirects_to_login(self):
        r = request(self.port, "GET", "/w/acme/settings/whatsapp")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/login")
        r = request(self.port, "GET", "/w/acme/settings/whatsapp",
                    headers={"Cookie": "waba_session=" + "00" * 32})
        self.assertEqual(r.status, 303)
        r = request(self.port, "GET", "/w/acme/settings/whatsapp",
                    headers={"Cookie": "waba_session=garbage"})
        self.assertEqual(r.status, 303)

    def test_post_without_or_with_wrong_csrf_is_403(self):
        b, _ = self.sign_in("alice@acme.example", PW_A)
        r = b.post("/logout", {})
        self.assertEqual(r.status, 403)
        r = b.post("/logout", {"csrf_token": "0" * 64})
        self.assertEqual(r.status, 403)
        # Nothing changed: still signed in.
        self.assertEqual(b.get("/w/acme/settings/whatsapp").status, 200)

    def test_logout_invalidates_server_side(self):
        b, _ = self.sign_in("alice@acme.example", PW_A)
        page = b.get("/w/acme/settings/whatsapp")
        token = login_token(page)
        self.assertIsNotNone(token)
        old = dict(b.jar)
        r = b.post("/logout", {"csrf_token": token})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/login")
        # The old cookie, replayed, is worthless.
        r = request(self.port, "GET", "/w/acme/settings/whatsapp",
                    headers={"Cookie": "waba_session=" + old["waba_session"]})
        self.assertEqual(r.status, 303)

    def test_bad_flash_parameter_is_ignored(self):
        """?m= only picks the banner a redirect back shows: a value that
        is not one of ours, or not even a key, shows the page without a
        banner rather than a 400 that locks the user out of it."""
        b, _ = self.sign_in("alice@acme.example", PW_A)
        for m in ("x" * 65, "a%20b", "%C3%A9", "no_such_flash", ""):
            page = b.get("/w/acme/settings/whatsapp?m=" + m)
            self.assertEqual(page.status, 200, m)
            self.assertNotIn('id="flash"', page.text, m)
            self.assertIn("Not connected", page.text, m)
        page = b.get("/w/acme/settings/whatsapp?m=not_connected")
        self.assertEqual(page.status, 200)
        self.assertIn('id="flash"', page.text)
        self.assertIn("Connect WhatsApp first.", page.text)
        # A query string that is not one at all is still refused whole.
        self.assertEqual(b.get("/w/acme/settings/whatsapp?m=%zz").status,
                         400)

    def test_bad_field_is_refused_before_the_state_is_read(self):
        """Declared fields are checked at the edge, before the handler
        looks at the workspace: a malformed PIN or number is 400 (the
        field's own words) even where WhatsApp is not connected, and
        only a well-formed request learns that it is not."""
        b, _ = self.sign_in("alice@acme.example", PW_A)
        tok = login_token(b.get("/w/acme/settings/whatsapp"))
        self.assertIsNotNone(tok)
        base = "/w/acme/settings/whatsapp"
        r = b.post(base + "/phone-numbers", {"csrf_token": tok,
                                              "phone_number_id": "1",
                                              "pin": "12"})
        self.assertEqual(r.status, 400)
        self.assertIn("six-digit two-step verification PIN", r.text)
        r = b.post(base + "/phone-numbers", {"csrf_token": tok,
                                              "phone_number_id": "1",
                                              "pin": "123456"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), base + "?m=not_connected")
        r = b.post(base + "/test-message", {"csrf_token": tok, "to": "abc"})
        self.assertEqual(r.status, 400)
        self.assertIn("international format", r.text)
        r = b.post(base + "/test-message", {"csrf_token": tok,
                                             "to": "4915112345678"})
        self.assertEqual(r.status, 409)
        # The CSRF check still comes first: a bad field without the
        # token is 403, not 400.
        r = b.post(base + "/test-message", {"to": "abc"})
        self.assertEqual(r.status, 403)

    def test_bad_login_input_changes_nothing(self):
        before = self.st.sql("SELECT COUNT(*) FROM waba_control.login_failures")
        b = Browser(self.port)
        tok = login_token(b.get("/login"))
        for form in ({"csrf_token": tok},
                     {"csrf_token": tok, "email": "no-at-sign", "password": "x"},
                     {"csrf_token": tok, "email": "a@b.example", "password": ""}):
            r = b.post("/login", form)
            self.assertEqual(r.status, 400)
        r = b.post("/login", raw=b"email=a%ZZ&password=x",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400)
        after = self.st.sql("SELECT COUNT(*) FROM waba_control.login_failures")
        self.assertEqual(before, after)


class AddressThrottle(StackCase):
    """Guessing across many accounts from one address is throttled too."""
    workers = 2

    def test_thirty_first_failure_from_one_address_is_throttled(self):
        b = Browser(self.port)
        tok = login_token(b.get("/login"))
        for i in range(30):
            r = b.post("/login", {"csrf_token": tok, "password": "x" * 12,
                                  "email": "guess%d@example.com" % i})
            self.assertEqual(r.status, 401, i)
        r = b.post("/login", {"csrf_token": tok, "password": "x" * 12,
                              "email": "fresh@example.com"})
        self.assertEqual(r.status, 429)


class DeviceCookies(StackCase):
    """Issue 8 item 12, OWASP's device cookies: a browser that signed in
    to an account before is not locked out by others' failures on it;
    every other client still is. Its own failures are limited per device."""
    workers = 2

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme")
        for e in ("owner@acme.example", "other@acme.example",
                  "dev@acme.example"):
            cls.st.admin("user", "add", "acme", e, input=PW_A + "\n")

    def attempt(self, b, email, pw):
        tok = login_token(b.get("/login"))
        return b.post("/login", {"csrf_token": tok, "email": email,
                                 "password": pw})

    def owner_browser(self, email):
        b = Browser(self.port)
        r = self.attempt(b, email, PW_A)
        self.assertEqual(r.status, 303)
        dc = [c for c in r.cookies() if c.startswith("waba_device=")]
        self.assertEqual(len(dc), 1, r.cookies())
        self.assertRegex(dc[0], r"^waba_device=\d+\.[0-9a-f]{32}\."
                         r"[0-9a-f]{64}; Path=/; Max-Age=\d+; HttpOnly")
        # The email is not in the cookie.
        value = dc[0].split(";")[0].split("=", 1)[1]
        self.assertNotIn(email.split("@")[0], value)
        tok = login_token(b.get("/w/acme/settings/whatsapp"))
        self.assertEqual(b.post("/logout", {"csrf_token": tok}).status, 303)
        self.assertIn("waba_device", b.jar)
        self.assertNotIn("waba_session", b.jar)
        return b

    def test_owner_signs_in_while_others_are_locked_out(self):
        email = "owner@acme.example"
        owner = self.owner_browser(email)
        for i in range(10):
            r = self.attempt(Browser(self.port), email, "guess %d" % i)
            self.assertEqual(r.status, 401, i)
        # A browser without the cookie is locked out, right password or not.
        r = self.attempt(Browser(self.port), email, PW_A)
        self.assertEqual(r.status, 429)
        # A forged or tampered device cookie is no better.
        forged = Browser(self.port)
        v = owner.jar["waba_device"]
        forged.jar["waba_device"] = v[:-1] + ("0" if v[-1] != "0" else "1")
        self.assertEqual(self.attempt(forged, email, PW_A).status, 429)
        # The owner's browser still signs in, and mistypes are 401.
        self.assertEqual(self.attempt(owner, email, "typo").status, 401)
        r = self.attempt(owner, email, PW_A)
        self.assertEqual(r.status, 303, r.text[:300])
        # Its cookie is for that account only.
        cookie = "waba_device=" + owner.jar["waba_device"]
        b = Browser(self.port)
        b.jar["waba_device"] = owner.jar["waba_device"]
        for i in range(10):
            self.assertEqual(self.attempt(Browser(self.port),
                                          "other@acme.example",
                                          "x %d" % i).status, 401)
        self.assertEqual(self.attempt(b, "other@acme.example", PW_A).status,
                         429, cookie)

    def test_trusted_device_is_limited_on_its_own(self):
        email = "dev@acme.example"
        dev = self.owner_browser(email)
        for i in range(10):
            self.assertEqual(self.attempt(dev, email, "no %d" % i).status,
                             401, i)
        self.assertEqual(self.attempt(dev, email, PW_A).status, 429)
        # Its failures did not lock the account for untrusted clients.
        self.assertEqual(self.attempt(Browser(self.port), email,
                                      PW_A).status, 303)


class HttpsCookies(StackCase):
    """With an https base_url the cookies are Secure and __Host- prefixed."""
    workers = 1

    @classmethod
    def setUpStack(cls):
        cls.st.base_url = "https://127.0.0.1:%d" % cls.st.port
        cls.st.write_config(**{"server.base_url": cls.st.base_url})
        cls.st.admin("workspace", "add", "acme", "Acme")
        cls.st.admin("user", "add", "acme", "alice@acme.example",
                     input=PW_A + "\n")

    def test_host_prefix_and_secure(self):
        b = Browser(self.port)
        page = b.get("/login")
        lc = [c for c in page.cookies() if c.startswith("__Host-waba_login=")]
        self.assertTrue(lc and "Secure" in lc[0], page.cookies())
        r = b.post("/login", {"csrf_token": login_token(page),
                              "email": "alice@acme.example", "password": PW_A})
        self.assertEqual(r.status, 303)
        sc = [c for c in r.cookies() if c.startswith("__Host-waba_session=")]
        self.assertEqual(len(sc), 1)
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(flag, sc[0])
        self.assertNotIn("Domain", sc[0])


class ConcurrentFailures(StackCase):
    """Guesses sent at once cannot all slip under the per-email limit:
    each attempt is recorded before it is counted."""
    workers = 2

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme")
        cls.st.admin("user", "add", "acme", "race@acme.example",
                     input=PW_A + "\n")

    def test_parallel_failures_stop_at_ten(self):
        import threading
        b = Browser(self.port)
        tok = login_token(b.get("/login"))
        cookie = "; ".join("%s=%s" % kv for kv in b.jar.items())
        statuses = []

        def guess(i):
            r = request(self.port, "POST", "/login",
                        body={"csrf_token": tok, "email": "race@acme.example",
                              "password": "wrong guess %d" % i},
                        headers={"Cookie": cookie}, timeout=60)
            statuses.append(r.status)
        threads = [threading.Thread(target=guess, args=(i,))
                   for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(statuses), 16)
        self.assertEqual(set(statuses) - {401, 429}, set())
        self.assertEqual(statuses.count(401), 10, statuses)
        # Only real failures are kept: the throttled ones are taken back.
        self.assertEqual(self.st.sql(
            "SELECT COUNT(*) FROM waba_control.login_failures WHERE "
            "email = 'race@acme.example'").strip(), "10")
        _, r = Auth.sign_in(self, "race@acme.example", PW_A)
        self.assertEqual(r.status, 429)


class SessionExpiry(StackCase):
    """session_idle_minutes (120 here) and session_max_hours (168): the
    rows' times are moved back with SQL instead of waiting."""
    workers = 1
    config = {"server.session_idle_minutes": 120,
              "server.session_max_hours": 168}

    @classmethod
    def setUpStack(cls):
        cls.st.admin("workspace", "add", "acme", "Acme")
        cls.st.admin("user", "add", "acme", "alice@acme.example",
                     input=PW_A + "\n")

    def signed_in(self):
        b, r = Auth.sign_in(self, "alice@acme.example", PW_A)
        self.assertEqual(r.status, 303)
        page = b.get("/w/acme/settings/whatsapp")
        self.assertEqual(page.status, 200)
        b.csrf = login_token(page)
        where = ("id_hash = UNHEX(SHA2(UNHEX('%s'), 256))"
                 % b.jar["waba_session"])
        self.assertEqual(self.sql("SELECT COUNT(*) FROM sessions WHERE "
                                  + where), "1")
        return b, where

    def sql(self, q):
        return self.st.sql(q, db="waba_control").strip()

    def assert_signed_out(self, b):
        r = b.get("/w/acme/settings/whatsapp")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/login")
        self.assertEqual(b.get("/login").status, 200)   # not sent home
        # Its form token no longer does anything either.
        audit = self.st.sql("SELECT COUNT(*) FROM audit_log", db="waba_ws_1")
        r = b.post("/w/acme/settings/whatsapp/disconnect",
                   {"csrf_token": b.csrf})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/login")
        self.assertEqual(audit, self.st.sql("SELECT COUNT(*) FROM audit_log",
                                            db="waba_ws_1"))

    def test_idle_expiry(self):
        b, where = self.signed_in()
        # As the app leaves a row idle for 121 minutes.
        self.sql("UPDATE sessions SET last_seen_at = UTC_TIMESTAMP() - "
                 "INTERVAL 121 MINUTE, expires_at = UTC_TIMESTAMP() - "
                 "INTERVAL 1 MINUTE WHERE " + where)
        self.assert_signed_out(b)
        # Idle too long by the configuration, even if expires_at says
        # otherwise (the limit was lowered since the row was written).
        b, where = self.signed_in()
        self.sql("UPDATE sessions SET last_seen_at = UTC_TIMESTAMP() - "
                 "INTERVAL 121 MINUTE WHERE " + where)
        self.assert_signed_out(b)

    def test_activity_slides_the_idle_expiry(self):
        b, where = self.signed_in()
        self.sql("UPDATE sessions SET last_seen_at = UTC_TIMESTAMP() - "
                 "INTERVAL 119 MINUTE, expires_at = UTC_TIMESTAMP() + "
                 "INTERVAL 1 MINUTE WHERE " + where)
        self.assertEqual(b.get("/w/acme/settings/whatsapp").status, 200)
        left = int(self.sql("SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), "
                            "expires_at) FROM sessions WHERE " + where))
        self.assertGreaterEqual(left, 118)
        self.assertLessEqual(left, 120)

    def test_absolute_expiry(self):
        b, where = self.signed_in()
        # Active a moment ago, but signed in more than 168 hours ago.
        self.sql("UPDATE sessions SET created_at = UTC_TIMESTAMP() - "
                 "INTERVAL 169 HOUR WHERE " + where)
        self.assert_signed_out(b)
        # Sliding never goes past the absolute limit.
        b, where = self.signed_in()
        self.sql("UPDATE sessions SET created_at = UTC_TIMESTAMP() - "
                 "INTERVAL 10075 MINUTE, last_seen_at = UTC_TIMESTAMP() - "
                 "INTERVAL 2 MINUTE WHERE " + where)
        self.assertEqual(b.get("/w/acme/settings/whatsapp").status, 200)
        left = int(self.sql("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                            "expires_at) FROM sessions WHERE " + where))
        self.assertLessEqual(left, 5 * 60)
        self.sql("UPDATE sessions SET created_at = UTC_TIMESTAMP() - "
                 "INTERVAL 168 HOUR - INTERVAL 1 SECOND, expires_at = "
                 "UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE " + where)
        self.assert_signed_out(b)


class FastCGIAllowList(StackCase):
    """What the README says of FCGI_WEB_SERVER_ADDRS (issue 8 item 12): on
    TCP, libfcgi serves only the listed web server addresses. A second
    pool on a TCP port, once not listing 127.0.0.1 and once listing it."""
    workers = 1

    def fastcgi_get(self, port):
        import socket
        import struct
        from client import FCGI_BEGIN, FCGI_PARAMS, FCGI_STDIN, _nv, _record
        params = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/login",
                  "SCRIPT_NAME": "/login", "REMOTE_ADDR": "127.0.0.1",
                  "SERVER_PROTOCOL": "HTTP/1.1"}
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(10)
        out = b""
        try:
            s.sendall(_record(FCGI_BEGIN, struct.pack("!HB5x", 1, 0)))
            s.sendall(_record(FCGI_PARAMS, b"".join(
                _nv(k, v) for k, v in params.items())))
            s.sendall(_record(FCGI_PARAMS, b""))
            s.sendall(_record(FCGI_STDIN, b""))
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass        # closed by the pool: a reset or a broken pipe
        finally:
            s.close()
        return out

    def test_only_listed_addresses_are_served(self):
        import os
        import socket
        import subprocess
        from stack import ROOT, free_port
        for allow, served in (("127.0.0.2", False),
                              ("127.0.0.2,127.0.0.1", True)):
            port = free_port()
            env = dict(os.environ, FCGI_WEB_SERVER_ADDRS=allow)
            p = subprocess.Popen(
                [os.path.join(ROOT, "waba-connect"), "--config",
                 self.st.config_path, "--listen", "127.0.0.1:%d" % port,
                 "--workers", "1"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 20
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port),
                                                 0.2).close()
                        break
                    except OSError:
                        self.assertLess(time.time(), deadline)
                        time.sleep(0.05)
                out = self.fastcgi_get(port)
                self.assertEqual(b"Status: 200" in out, served, (allow, out))
            finally:
                p.terminate()
                p.wait(30)
