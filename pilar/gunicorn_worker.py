"""gunicorn's gthread worker, with each request read before a thread waits on it.

gthread hands a connection to one of its threads as soon as its first byte arrives; the thread then
blocks until the whole head (and later the body) has come. Eight clients sending one byte every half
second held all 2×4 threads, and nobody else was answered for as long as they kept it up. Here a
thread that takes a connection reads only what has arrived, without waiting: the whole request (as
nearly always) is answered at once, anything less goes back to the worker's own event loop, which
reads the rest of the head, and a body of known length up to PILAR_MAX_BODY_BYTES, without blocking;
a thread takes the connection again once its request is all there. A request that takes longer than
PILAR_HEADER_TIMEOUT to send its head, or PILAR_BODY_TIMEOUT more for its body, is answered 408 and
closed; a thread's own reads and writes on a connection give up after PILAR_BODY_TIMEOUT. TLS and
HTTP/2 (neither is configured: nginx terminates TLS) are left to gthread.
"""

import os
import selectors
import time
from functools import partial

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

DEFAULT_WORKERS = 2
# Threads per worker (PILAR_THREADS overrides): slow clients hold none (above), so threads only
# serve concurrency. 2 × 4 read ~20% faster than 2 × 2 on both stores; on SQLite, whose one writer
# extra threads only queue for while taking the interpreter, writes go one at a time per worker
# (PILAR_WRITES_PER_WORKER; pilar/wsgi.py `_WritesInTurn`): side by side, 2 × 4 with one write at a
# time wrote 470 writes/s against 414 (2 × 2) and 345 (2 × 4 ungated) (docs/performance.md,
# "Threads per worker").
DEFAULT_THREADS = 4


def threads_per_worker() -> int:
    return int(os.environ.get("PILAR_THREADS") or DEFAULT_THREADS)

HEAD_LIMIT = 64 * 1024  # a head this long is handed on as it is, for gunicorn's parser to refuse
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a number of seconds above 0 (e.g. {default:g}), not {text!r}")
    return value


def request_complete(buffer: bytes | bytearray, body_limit: int) -> bool:
    """Whether a thread may take the request now: its head and its body are here, or its body is not
    worth waiting for (over the limit: the app refuses it without reading it; a client waiting for
    `100 Continue`). Handing it on too early is safe (the thread reads the rest, within its
    timeout); too late is not, so anything unclear is handed on."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return len(buffer) > HEAD_LIMIT
    body = len(buffer) - end - 4
    head = bytes(buffer[:end]).lower()
    if b"\nexpect:" in head:
        return True
    if b"\ntransfer-encoding:" in head:  # chunked: its last chunk (and trailers) ends with an empty line
        return body > body_limit or (body > 0 and buffer.endswith(b"\r\n\r\n"))
    lengths = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]
               if line.startswith(b"content-length:")]
    if len(lengths) != 1 or not lengths[0].isdigit():
        return True  # no body, or one the parser refuses
    length = int(lengths[0])
    return length > body_limit or body >= length


def _receive(sock) -> bytes | None:
    """What has arrived (b"": the client closed the connection), or None if nothing has, without waiting."""
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


_LOOP_READS = object()  # a thread's answer: the request is not all here, the worker's loop reads the rest


class BufferingThreadWorker(ThreadWorker):

    def init_process(self):
        from pilar.settings import Settings

        self.header_timeout = _seconds("PILAR_HEADER_TIMEOUT", 10)
        self.body_timeout = _seconds("PILAR_BODY_TIMEOUT", 30)
        self.body_limit = Settings.from_env().max_body_bytes
        self.reading: dict = {}  # connection -> its deadline
        super().init_process()

    def _buffers(self, conn) -> bool:
        # Decided once per connection: nothing it depends on changes while the connection lives.
        buffers = getattr(conn, "pilar_buffers", None)
        if buffers is None:
            buffers = conn.pilar_buffers = not (
                self.cfg.is_ssl or conn.is_http2 or self.cfg.protocol != "http"
                or negotiation.prior_knowledge_allowed(self.cfg, conn.client)
                or negotiation.upgrade_allowed(self.cfg, conn.client))
        return buffers

    def handle(self, conn):
        """Every way a connection reaches a thread (a new one, a kept-alive one that became readable,
        one with a pipelined request already read) passes here. The thread reads what has arrived
        without waiting; if that is the whole request, it goes on at once (most requests: one hand-
        over between the loop and a thread, as in gthread), else the thread lets go and the loop
        reads the rest (`_loop_reads`)."""
        if self._buffers(conn) and not getattr(conn, "pilar_complete", False):
            arrived = self._arrived(conn)
            if arrived is None:
                return False  # the client closed the connection
            if not request_complete(arrived, self.body_limit):
                conn.pilar_buffer = arrived
                return _LOOP_READS
            self._take(conn, arrived)
        conn.pilar_complete = False
        return super().handle(conn)

    def _arrived(self, conn) -> bytearray | None:
        """What the client has sent so far (None: it closed the connection), read without blocking."""
        arrived = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.sock.setblocking(False)
        while not request_complete(arrived, self.body_limit):
            data = _receive(conn.sock)
            if data is None:
                break
            if not data:
                return None
            arrived += data
        return arrived

    def _take(self, conn, arrived: bytearray) -> None:
        conn.init()  # the parser, which reads what is buffered here before the socket
        conn.parser.unreader.unread(bytes(arrived))
        conn.data_ready = True

    def finish_request(self, conn, fs):
        if fs.cancelled() or fs.exception() is not None or fs.result() is not _LOOP_READS:
            return super().finish_request(conn, fs)
        if not self.alive:
            self.nr_conns -= 1
            conn.close()
            return None
        self._loop_reads(conn)
        return None

    def _loop_reads(self, conn) -> None:
        head_done = b"\r\n\r\n" in conn.pilar_buffer
        conn.pilar_head_done = head_done
        self.reading[conn] = time.monotonic() + (self.body_timeout if head_done else self.header_timeout)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, _sock):
        data = _receive(conn.sock)
        if data is None:
            return
        if not data:
            self._drop(conn)
            return
        conn.pilar_buffer += data
        if not request_complete(conn.pilar_buffer, self.body_limit):
            if not conn.pilar_head_done and b"\r\n\r\n" in conn.pilar_buffer:
                conn.pilar_head_done = True
                self.reading[conn] = time.monotonic() + self.body_timeout
            return
        del self.reading[conn]
        self.poller.unregister(conn.sock)
        self._take(conn, conn.pilar_buffer)
        conn.pilar_buffer = bytearray()
        conn.pilar_complete = True
        self.enqueue_req(conn)

    def _drop(self, conn, answer: bytes = b"") -> None:
        del self.reading[conn]
        self.poller.unregister(conn.sock)
        if answer:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn in [conn for conn, deadline in self.reading.items() if deadline <= now]:
            self.log.info("closed a connection from %s: its request did not arrive in time (408)", conn.client[0])
            self._drop(conn, TIMED_OUT)

    def handle_request(self, req, conn):
        # A client that stops reading its answer (or, for a chunked body, sending) frees the thread in time.
        conn.sock.settimeout(self.body_timeout)
        return super().handle_request(req, conn)
