"""Production settings for gunicorn; `-b` on the command line overrides the bind."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("PILAR_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("PILAR_THREADS", "4"))
# Each worker builds its own application after the fork (see wsgi.py).
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("PILAR_ACCESS_LOG", "-") or None  # empty: no access log


# Workers share their Prometheus metrics through files in one directory per server.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pilar-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Build now rather than on the first request, so a bad configuration fails the boot.
    build = getattr(worker.wsgi, "build", None)  # benchmark baselines serve plain WSGI apps
    if build is not None:
        build()


# gunicorn's runtime control socket sits at one fixed path per user; several Pilar servers on
# one machine (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True


_companion = None


def on_starting(server):
    # The projection process runs beside the server unless PILAR_PROJECTOR=off (e.g. when it
    # is supervised on its own). With several servers, one leads and the others stand by.
    global _companion
    if os.environ.get("PILAR_PROJECTOR", "on") != "off":
        from projections.companion import ProjectorCompanion

        _companion = ProjectorCompanion()
        _companion.start()


def on_exit(server):
    if _companion is not None:
        _companion.stop()
    import shutil

    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
