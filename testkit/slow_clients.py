"""Slow clients against a real server: connections that send their request one byte at a time, and a
measure of how long other users wait meanwhile (tests/test_slow_clients.py, tests/test_nginx.py)."""

import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import requests

HEAD = b"GET /healthz HTTP/1.1\r\nHost: pilar\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"


def body_head(length: int) -> bytes:
    return (b"POST /api/v1/auth/token HTTP/1.1\r\nHost: pilar\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(length).encode() + b"\r\n\r\n")


class Trickler(threading.Thread):
    """Sends `first` at once, then `rest` one byte every `interval` seconds, for at most `seconds`,
    unless the server closes the connection; `bytes_sent` and `closed_after` say how it went."""

    def __init__(self, url: str, first: bytes, rest: bytes, seconds: float, interval: float = 0.5):
        super().__init__(daemon=True)
        address = urlsplit(url)
        self.address = (address.hostname, address.port)
        self.tls = address.scheme == "https"
        self.first, self.rest, self.seconds, self.interval = first, rest, seconds, interval
        self.bytes_sent = 0
        self.closed_after: float | None = None
        self.answer = b""

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(self.address, timeout=60) as plain:
            sock = plain
            if self.tls:  # a self-signed test certificate
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                sock = context.wrap_socket(plain)
            try:
                if self.first:
                    sock.sendall(self.first)
                for byte in self.rest:
                    if time.monotonic() - started > self.seconds:
                        return
                    sock.sendall(bytes([byte]))
                    self.bytes_sent += 1
                    time.sleep(self.interval)
                    sock.setblocking(False)
                    try:
                        got = sock.recv(4096)
                        self.answer += got
                        if not got:
                            self.closed_after = time.monotonic() - started
                            return
                    except (BlockingIOError, ssl.SSLWantReadError):
                        pass
                    finally:
                        sock.setblocking(True)
                sock.settimeout(self.seconds)
                self.answer += sock.recv(4096)
            except OSError:
                self.closed_after = time.monotonic() - started
            finally:
                sock.close()


def slow_crowd(url: str, count: int, seconds: float) -> list[Trickler]:
    """`count` slow connections, half trickling a head, half a body (of a sign-in)."""
    crowd = []
    for n in range(count):
        if n % 2:
            crowd.append(Trickler(url, body_head(400), b"{" + b" " * 399, seconds))
        else:
            crowd.append(Trickler(url, b"", HEAD, seconds))
    for trickler in crowd:
        trickler.start()
    return crowd


def timed(method: str, url: str, **kwargs) -> tuple[float, int | None]:
    """How long the request took and its status (None if it did not answer within the timeout)."""
    started = time.monotonic()
    try:
        status = requests.request(method, url, **kwargs).status_code
    except requests.RequestException:
        status = None
    return time.monotonic() - started, status
