"""A TCP proxy in front of the sandbox that loses one send and then the
server: the fault where Meta takes a message on a kept-alive connection,
the connection closes before a byte of answer, and the fresh connection
libcurl opens to send it again is refused (Meta's edge restarting, a
network cut). The first send may have been acted on; the second attempt
failing to connect proves nothing about it.

Armed with a marker (bytes of one request body), it forwards the chunk
carrying it, closes the client's connection and the listening socket, and
listens again on the same port `refuse_s` later. Loopback only; it looks
at bytes, not at HTTP."""
import socket
import threading
import time

from dbproxy import cut


class GraphFront:
    def __init__(self, upstream_port, refuse_s=1.5):
        self.upstream = ("127.0.0.1", upstream_port)
        self.refuse_s = refuse_s
        self.lock = threading.Lock()
        self.marker = None
        self.lost = threading.Event()  # the armed request was forwarded
        self.closed = False
        self.conns = []
        self.port = 0
        self._listen()

    def _listen(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,),
                         daemon=True).start()

    def arm(self, marker):
        with self.lock:
            self.marker = marker
            self.lost.clear()

    def _stop_listening(self):
        for f in (lambda: self.listener.shutdown(socket.SHUT_RDWR),
                  self.listener.close):
            try:
                f()
            except OSError:
                pass

    def close(self):
        self.closed = True
        self._stop_listening()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self, ls):
        while not self.closed:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream, timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            state = {"mute": False}
            threading.Thread(target=self._pump, args=(c, u, True, state),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False, state),
                             daemon=True).start()

    def _pump(self, src, dst, up, state):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if up:
                    with self.lock:
                        hit = self.marker is not None and self.marker in data
                        if hit:
                            self.marker = None
                    if hit:
                        state["mute"] = True  # its answer never arrives
                        dst.sendall(data)  # Meta has it
                        self._lose(src, dst)
                        return
                elif state["mute"]:
                    continue
                dst.sendall(data)
        except OSError:
            pass
        cut(src, dst)

    def _lose(self, c, u):
        # Refused from now on: the listener goes before the client learns
        # its connection is gone, so its resend finds nobody. (shutdown
        # first: a bare close leaves it listening while the accepting
        # thread is blocked in accept().)
        self._stop_listening()
        time.sleep(0.2)  # the sandbox has the body whole
        cut(c, u)
        self.lost.set()
        threading.Timer(self.refuse_s, self._reopen).start()

    def _reopen(self):
        if not self.closed:
            self._listen()
