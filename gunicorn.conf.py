"""gunicorn's settings for a source checkout (`gunicorn -c gunicorn.conf.py wsgi:app`). They live in the
module gunicorn_conf, which `pip install` ships: an installed Pilar runs `gunicorn -c python:gunicorn_conf wsgi:app`."""

from gunicorn_conf import *  # noqa: F401,F403
