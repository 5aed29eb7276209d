# The baselines' gunicorn configuration: nothing beyond the command line. Without a `-c`, gunicorn
# reads a ./gunicorn.conf.py when one is there: an explicit, empty one keeps the baselines plain.
