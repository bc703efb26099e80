"""A TCP proxy in front of MariaDB's socket that can lose one commit's
acknowledgement: the fault a database node's crash (or a network cut)
makes, where a COMMIT is applied by the server and its answer never
reaches the client, which then cannot tell whether it happened.

Armed with a marker (bytes some statement's packet carries, such as a
bound value), it forwards the next COMMIT after that packet, drops the
server's answer, closes the client's connection, and refuses every new
connection until open() is called. Loopback only; it parses the client's
packet framing (3-byte length, sequence byte) and nothing else."""
import socket
import threading


def cut(*socks):
    """Shut down and close each socket, whatever state it is in."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


class DbProxy:
    def __init__(self, upstream_socket):
        self.upstream = upstream_socket
        self.lock = threading.Lock()
        self.marker = None
        self.refusing = False
        self.lost = threading.Event()  # a commit's answer was dropped
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker):
        with self.lock:
            self.marker = marker
            self.lost.clear()

    def open(self):
        with self.lock:
            self.refusing = False

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                refusing = self.refusing
            if refusing:
                c.close()  # the client sees a lost connection at once
                continue
            try:
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                u.connect(self.upstream)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            state = {"mute": False, "seen": False}
            threading.Thread(target=self._up, args=(c, u, state),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(u, c, state),
                             daemon=True).start()

    def _up(self, c, u, state):
        """Client to server, packet by packet."""
        buf = b""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:3], "little")
                    if len(buf) < 4 + n:
                        break
                    pkt, buf = buf[:4 + n], buf[4 + n:]
                    body = pkt[4:]
                    with self.lock:
                        marker = self.marker
                    if marker is not None and marker in body:
                        state["seen"] = True
                    elif (state["seen"] and body[:1] == b"\x03" and
                          body[1:].strip().upper() == b"COMMIT"):
                        # Applied by the server; its answer is lost.
                        with self.lock:
                            self.marker = None
                            self.refusing = True
                        state["mute"] = True
                        u.sendall(pkt)
                        threading.Timer(0.3, self._lose, (c, u)).start()
                        return
                    u.sendall(pkt)
        except OSError:
            pass
        if not state["mute"]:
            self._cut(c, u)

    def _cut(self, c, u):
        cut(c, u)

    def _lose(self, c, u):
        self._cut(c, u)
        self.lost.set()

    def _down(self, u, c, state):
        """Server to client, unless muted."""
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                if state["mute"]:
                    continue
                c.sendall(data)
        except OSError:
            pass
        if not state["mute"]:
            self._cut(c, u)
