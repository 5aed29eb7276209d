# The baselines' gunicorn configuration: nothing beyond the command line. Without a `-c`, gunicorn
# would read ./gunicorn.conf.py, Pilar's own (its logger, its projection process).
