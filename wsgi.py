"""gunicorn entry: `gunicorn -c gunicorn.conf.py wsgi:app`.

The Flask app (and its store connections) is built inside each worker after the fork, never
in the master: connection pools and SQLite handles must not be shared across processes.
"""

import os
import threading


class PerProcessApp:
    def __init__(self) -> None:
        self._app = None
        self._pid = None
        self._lock = threading.Lock()

    def build(self):
        with self._lock:
            if self._app is None or self._pid != os.getpid():
                from api import create_app

                self._app = create_app()
                self._pid = os.getpid()
        return self._app

    def __call__(self, environ, start_response):
        app = self._app if self._pid == os.getpid() else self.build()
        return app(environ, start_response)


app = PerProcessApp()
