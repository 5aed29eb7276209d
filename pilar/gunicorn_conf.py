"""Production settings for gunicorn; `-b` on the command line overrides the bind."""

import os

from pilar.gunicorn_worker import DEFAULT_WORKERS, threads_per_worker

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("PILAR_WORKERS", str(DEFAULT_WORKERS)))
# gthread, reading each request before a thread takes it, so slow clients cannot hold the threads
# (gunicorn_worker.py; PILAR_HEADER_TIMEOUT, PILAR_BODY_TIMEOUT).
worker_class = "pilar.gunicorn_worker.BufferingThreadWorker"
threads = threads_per_worker()
# Each worker builds its own application after the fork (see pilar/wsgi.py).
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("PILAR_ACCESS_LOG", "-") or None  # empty: no access log
# gunicorn believes X-Forwarded-Proto from 127.0.0.1 by default; here it believes no forwarded
# header from anyone, and the app alone trusts as many proxies as PILAR_TRUSTED_PROXIES says.
forwarded_allow_ips = ""
secure_scheme_headers = {}
# Access lines name the request by method and path only: no query string, no referrer, and long
# digit runs outside ids masked, so a NIK, KK or phone number sent in a URL (by mistake, or by an
# old client's `?nik=`) is never written to the log. The fields of the default format otherwise.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(a)s" request_id=%({x-request-id}o)s'
# PILAR_LOG_FORMAT: json (the default) writes the access and error logs as JSON lines, in the format
# of the app's own lines (pilar/log_format.py); text keeps gunicorn's lines, with the request id.
_log_format = os.environ.get("PILAR_LOG_FORMAT", "json")


def _logger_class():
    import logging

    from gunicorn.glogging import Logger

    from pilar.cases.log_context import mask_numbers
    from pilar.log_format import chosen, formatter

    json_lines = chosen(_log_format) == "json"

    class PathOnlyLogger(Logger):
        """Whatever `access_log_format` says, the atoms that could carry personal data are safe:
        the request line and path without query or long numbers, no query string, no referrer."""

        def setup(self, cfg):
            super().setup(cfg)
            for handler in self.error_log.handlers + self.access_log.handlers:
                if json_lines and getattr(handler, "_gunicorn", False):
                    handler.setFormatter(formatter("json"))

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            path = mask_numbers(atoms.get("U") or "")
            atoms.update(U=path, r=f"{atoms.get('m')} {path} {atoms.get('H')}", q="", f="-")
            for header in ("{referer}i", "{cookie}i", "{authorization}i"):
                if header in atoms:
                    atoms[header] = "-"
            return atoms

        def access(self, resp, req, environ, request_time):
            if not json_lines:
                return super().access(resp, req, environ, request_time)
            log = self.access_log
            if not self.access_log_enabled or not log.isEnabledFor(logging.INFO):
                return None
            # The three atoms a JSON line needs, as gunicorn's atoms() takes them, without building
            # its every atom and header (5% of a read's CPU).
            method, path = environ.get("REQUEST_METHOD"), mask_numbers(environ.get("PATH_INFO") or "")
            context = environ.get("pilar.log") or {}
            fields = {"client": environ.get("REMOTE_ADDR", "-"), "method": method, "path": path,
                      "status": resp.status_code, "bytes": getattr(resp, "sent", None),
                      "duration_ms": round(request_time.total_seconds() * 1000, 1)}
            # The record Logger.info would make, less the look-up of the caller's file and line, which
            # no access line shows (a third of the line's cost).
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %s",
                                      (method, context.get("route") or path, resp.status_code), None,
                                      extra={"pilar_context": context, "pilar_fields": fields}))
            return None

    return PathOnlyLogger


logger_class = _logger_class()


def _honest_responses():
    """gunicorn (27) has no setting for either, so its HTTP/1 Response is adjusted here, in the
    master before the workers fork: no `Server: gunicorn` header, and `Connection: close` on an
    answer to a request whose body was not read to its end (a 413, or a 401 to a POST). gunicorn
    would otherwise say keep-alive, drain at most 64 KiB of the rest, then drop the connection,
    and a phone reusing it would lose its next request."""
    from gunicorn.http.wsgi import Response

    if getattr(Response, "pilar_adjusted", False):  # the configuration is read again on HUP
        return
    default_headers, should_close = Response.default_headers, Response.should_close

    def without_server(self):
        return [line for line in default_headers(self) if not line.startswith("Server:")]

    def closes_on_unread_body(self):
        reader = getattr(getattr(self.req, "body", None), "reader", None)
        unread = getattr(reader, "length", 0) > 0 or getattr(reader, "parser", None) is not None
        return unread or should_close(self)

    Response.default_headers, Response.should_close = without_server, closes_on_unread_body
    Response.pilar_adjusted = True


_honest_responses()


# Workers share their Prometheus metrics through files in one directory per server.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pilar-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    # The worker's last act. The interpreter's final garbage collections would walk every object
    # the app made (0.4 CPU-s, seconds on a busy machine, of each stop and restart) to free memory
    # the exit frees anyway; frozen objects are left out of them.
    import gc

    gc.freeze()


def post_worker_init(worker):
    # Build now rather than on the first request, so a bad configuration fails the boot; a store
    # that does not answer does not: the worker answers 503 and keeps trying (wsgi.PerProcessApp),
    # since a failed boot makes the master exit and take every healthy worker with it.
    build = getattr(worker.wsgi, "build_or_wait", None)  # benchmark baselines serve plain WSGI apps
    if build is not None:
        build()
    if _banner and worker.age == 1:  # `make run`: the first worker, once (when_ready below)
        print(_banner, flush=True)


def post_fork(server, worker):
    # A worker whose master is killed outright (SIGKILL, OOM) dies at once with it, rather than
    # acknowledging writes as an orphan with no projection process, holding the port.
    _die_with_parent(server.pid)


def _die_with_parent(parent: int) -> None:
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the master died before the request took effect
        os._exit(1)


# gunicorn's runtime control socket sits at one fixed path per user; several Pilar servers on
# one machine (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True


_companion = None


def on_starting(server):
    # The projection process runs beside the server unless PILAR_PROJECTOR=off (e.g. when it
    # is supervised on its own). With several servers, one leads and the others stand by.
    global _companion
    if os.environ.get("PILAR_PROJECTOR", "on") != "off":
        from pilar.projections.companion import ProjectorCompanion

        _companion = ProjectorCompanion()
        _companion.start()


def on_exit(server):
    if _companion is not None:
        _companion.stop()
    import gc
    import shutil

    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    gc.freeze()  # as in worker_exit


_banner = None


def when_ready(server):
    # `make run` pipes `pilar users ensure-admin`'s note (the admin's one-time password, when it has
    # just made one) to gunicorn's standard input: it is said last, with what to do next, by the first
    # worker once it can answer, rather than above a screen of start-up lines, and never via a file.
    global _banner
    if os.environ.get("PILAR_RUN_BANNER") != "1":
        return
    import sys

    note = "" if sys.stdin.isatty() else sys.stdin.read().strip()
    url = str(server.LISTENERS[0]) if server.LISTENERS else f"http://{bind}"
    admin = note or ("  Sign in as admin (its password was shown once, when it was made; "
                     ".venv/bin/pilar users reset-password admin sets another).")
    _banner = (f"\nPilar is running (Ctrl-C stops it; the store is in {os.environ.get('PILAR_INSTANCE_PATH')}):\n"
               f"  pages     {url}/\n  API docs  {url}/api/v1/docs\n{admin}\n"
               f"  Demo data: make demo (in another terminal), then sign in as pkh.pendamping / demo-password.\n")
