"""gunicorn entry: `gunicorn -c gunicorn.conf.py wsgi:app`.

The Flask app (and its store connections) is built inside each worker after the fork, never
in the master: connection pools and SQLite handles must not be shared across processes.
"""

import os
import threading
from collections.abc import Callable


class PerProcessApp:
    def __init__(self, factory: Callable) -> None:
        self._factory = factory
        self._app = None
        self._pid = None
        self._lock = threading.Lock()

    def build(self):
        with self._lock:
            if self._app is None or self._pid != os.getpid():
                self._app = self._factory()
                self._pid = os.getpid()
        return self._app

    def __call__(self, environ, start_response):
        app = self._app if self._pid == os.getpid() else self.build()
        return app(environ, start_response)


def _pilar():
    from api import create_app

    return create_app()


app = PerProcessApp(_pilar)
