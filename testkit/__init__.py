"""What the tests, the reliability suite and the benchmarks share: pytest fixtures on both
stores (`fixtures.py`), valid request bodies (`factories.py`) and real gunicorn servers
(`servers.py`). Not part of the product."""
