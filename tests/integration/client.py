"""Small HTTP and FastCGI clients for the integration tests (stdlib only)."""
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

# Every /api/ answer any test gets, for test_openapi.py to validate against
# doc/api/openapi.yaml (run.py empties it when a run starts).
ANSWERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "out", "api_answers.jsonl")
ANSWER_HEADERS = ("content-type", "retry-after", "idempotent-replayed",
                  "www-authenticate", "allow", "cache-control")
_answers_lock = threading.Lock()


def record_answer(method, path, r):
    """Appends one /api/ answer (method, path as sent, status, the headers
    the document speaks of, body) to ANSWERS, one JSON line."""
    line = json.dumps({"method": method, "path": path, "status": r.status,
                       "headers": {k.lower(): v for k, v in r.headers
                                   if k.lower() in ANSWER_HEADERS},
                       "body": r.text}) + "\n"
    with _answers_lock:
        os.makedirs(os.path.dirname(ANSWERS), exist_ok=True)
        with open(ANSWERS, "a") as f:
            f.write(line)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


def request(port, method, path, body=None, headers=None, timeout=15,
            context=None):
    """One request on its own connection; never follows redirects.
    context: an ssl.SSLContext to speak https (the TLS sandbox)."""
    if context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        if path.startswith("/api/"):
            record_answer(method, path, resp)
        return resp
    finally:
        conn.close()


def hammer(port, seconds, path="/healthz", clients=4):
    """GETs path from `clients` threads for a while; returns the threads
    (join them) and the list their status codes are collected in."""
    statuses, lock = [], threading.Lock()
    end = time.monotonic() + seconds

    def loop():
        while time.monotonic() < end:
            try:
                st = request(port, "GET", path, timeout=10).status
            except OSError as e:
                st = "error: %s" % e
            with lock:
                statuses.append(st)

    ts = [threading.Thread(target=loop) for _ in range(clients)]
    for t in ts:
        t.start()
    return ts, statuses


class Browser:
    """Keeps cookies like a browser does, for one site."""

    def __init__(self, port):
        self.port = port
        self.jar = {}

    def _cookie_header(self):
        return "; ".join("%s=%s" % kv for kv in self.jar.items())

    def _store(self, r):
        for c in r.cookies():
            nv = c.split(";", 1)[0]
            name, _, value = nv.partition("=")
            attrs = c.lower()
            if value == "" or "max-age=0" in attrs or "expires=thu, 01 jan 1970" in attrs:
                self.jar.pop(name.strip(), None)
            else:
                self.jar[name.strip()] = value.strip()

    def get(self, path, headers=None):
        h = dict(headers or {})
        if self.jar:
            h["Cookie"] = self._cookie_header()
        r = request(self.port, "GET", path, headers=h)
        self._store(r)
        return r

    def post(self, path, form=None, headers=None, raw=None):
        h = dict(headers or {})
        if self.jar:
            h["Cookie"] = self._cookie_header()
        r = request(self.port, "POST", path,
                    body=raw if raw is not None else (form or {}), headers=h)
        self._store(r)
        return r


# -- FastCGI, spoken directly to the pool (to hold a request in flight) ----
FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _record(rtype, content, req_id=1):
    out = b""
    while True:
        chunk, content = content[:65535], content[65535:]
        out += struct.pack("!BBHHBx", 1, rtype, req_id, len(chunk), 0) + chunk
        if not content:
            return out


def _nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return ln(len(name)) + ln(len(value)) + name + value


class FastCGIRequest:
    """A request sent in parts, so a test decides when it completes."""

    def __init__(self, sock_path, method, path, body_len, content_type=None,
                 extra=None):
        """extra: more FastCGI parameters (HTTP_AUTHORIZATION, QUERY_STRING)."""
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(sock_path)
        params = {"REQUEST_METHOD": method, "REQUEST_URI": path,
                  "SCRIPT_NAME": path, "CONTENT_LENGTH": str(body_len),
                  "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
        if content_type:
            params["CONTENT_TYPE"] = content_type
        params.update(extra or {})
        self.s.sendall(_record(FCGI_BEGIN, struct.pack("!HB5x", 1, 0)))
        self.s.sendall(_record(FCGI_PARAMS, b"".join(
            _nv(k, v) for k, v in params.items())))
        self.s.sendall(_record(FCGI_PARAMS, b""))

    def send_body(self, data, last=False):
        if data:
            self.s.sendall(_record(FCGI_STDIN, data))
        if last:
            self.s.sendall(_record(FCGI_STDIN, b""))

    def read_response(self):
        out, buf = b"", b""
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack("!BBHHB", buf[:7])
                if len(buf) < 8 + clen + plen:
                    break
                content = buf[8:8 + clen]
                buf = buf[8 + clen + plen:]
                if rtype == FCGI_STDOUT:
                    out += content
                elif rtype == FCGI_END:
                    self.s.close()
                    return out
        self.s.close()
        return out
