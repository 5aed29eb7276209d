"""A TCP forwarder in front of the shared PostgreSQL that a test can make refuse connections, so a
test sees PostgreSQL go away and come back without touching the server other tests use."""

import socket
import threading
from urllib.parse import urlsplit

from testkit.servers import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`. `refuse()` closes the listening socket (new
    connections are refused) and cuts every open one; `accept()` listens again on the same port."""

    def __init__(self, target: tuple[str, int], port: int | None = None):
        self.target = target
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def url_for(self, url: str) -> str:
        """`url` (a PostgreSQL URL of the target) through this proxy."""
        parts = urlsplit(url)
        credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return parts._replace(netloc=f"{credentials}127.0.0.1:{self.port}").geturl()

    def accept(self) -> "TcpProxy":
        listener = socket.socket()
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        threading.Thread(target=self._serve, args=(listener,), daemon=True).start()
        return self

    def refuse(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone does not wake the thread blocked in accept(), which keeps the port
            # listening (a later accept() then fails with EADDRINUSE); shutdown() does.
            _close(listener)
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    close = refuse

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by refuse()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(upstream)
                    return
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self._lock:
                self._open.difference_update((source, sink))


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
