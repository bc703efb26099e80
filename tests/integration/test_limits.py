"""Issue 8, item 11: the web servers' limits and timeouts, as shipped in
etc/. The test stack takes them from the shipped files themselves (the
marked blocks, see scripts/stack.py), so what is tested is what ships.
Loopback only; every connection is closed at the end."""
import os
import socket
import time

from base import StackCase
from client import request
from stack import ROOT, shipped_block


def idle_flood(port, n, partial=b"GET /healthz HTTP/1.1\r\nHost: x\r\n"):
    """n connections that send the start of a request and then nothing:
    the half-open, idle clients of a slowloris. Returns the sockets."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(partial)
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


def refused_for(port, seconds):
    """GETs /healthz until it answers 200 or `seconds` pass; returns how
    long it took (seconds, or None when no request succeeded)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if request(port, "GET", "/healthz", timeout=2).status == 200:
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.1)
    return None


class LighttpdLimits(StackCase):
    workers = 2

    def test_shipped_files_agree(self):
        """Both lighttpd snippets ship the same limits; the stack uses
        them (a missing block would make write_lighttpd fail)."""
        for block in ("limits", "backend limits"):
            a = shipped_block("lighttpd.conf", block)
            b = shipped_block("lighttpd-spawn.conf", block)
            self.assertEqual(a, b, block)
        conf = open(self.st.path("lighttpd.conf")).read()
        self.assertIn(shipped_block("lighttpd.conf", "limits"), conf)
        self.assertIn(shipped_block("lighttpd.conf", "backend limits"), conf)

    def test_2000_idle_connections_dont_lock_out_clients(self):
        """2,000 half-open idle connections: with the defaults lighttpd
        stopped accepting until its 60 s read timeout freed them. Now a
        normal request gets through within a few seconds."""
        socks = idle_flood(self.port, 2000)
        try:
            self.assertGreater(len(socks), 1900)
            took = refused_for(self.port, 15)
            self.assertIsNotNone(took, "no request got through in 15 s")
            self.assertLess(took, 5.0, "normal request refused %.1f s"
                            % took)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(request(self.port, "GET", "/healthz").status, 200)

    def test_idle_connection_is_closed_by_the_server(self):
        """The read timeout applies: a client that sends half a request
        and waits is dropped after server.max-read-idle."""
        idle = int(shipped_block("lighttpd.conf", "limits").split(
            "server.max-read-idle")[1].split("=")[1].split()[0])
        (s,) = idle_flood(self.port, 1)
        try:
            s.settimeout(idle + 5)
            t0 = time.monotonic()
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            took = time.monotonic() - t0
        finally:
            s.close()
        self.assertLess(took, idle + 3)
        self.assertGreater(took, idle - 2)
        self.assertNotIn(b"200 OK", data)


class ApacheLimits(StackCase):
    """Apache's event MPM holds one of its threads (16 in the test stack)
    per connection still sending its request headers, so it cannot shed
    2,000 idle connections the way lighttpd does; what the shipped file
    can and does bound is how long each holds its thread."""
    web = "apache"
    workers = 2
    threads = 16     # ThreadsPerChild = MaxRequestWorkers in stack.py

    def test_shipped_limits_in_use(self):
        conf = open(self.st.path("apache.conf")).read()
        self.assertIn(shipped_block("apache-waba-connect.conf", "limits"),
                      conf)

    def test_idle_connections_on_every_thread_free_them_in_seconds(self):
        """Every thread taken by a half-open idle connection: without
        RequestReadTimeout they were held for Timeout (60 s); with the
        shipped header timeout a normal request gets through in ~5 s."""
        socks = idle_flood(self.port, self.threads)
        try:
            self.assertEqual(len(socks), self.threads)
            time.sleep(0.5)
            took = refused_for(self.port, 15)
            self.assertIsNotNone(took, "no request got through in 15 s")
            self.assertLess(took, 8.0, "normal request refused %.1f s"
                            % took)
        finally:
            for s in socks:
                s.close()
