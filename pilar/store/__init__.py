"""Where events, views, seals and keys are stored: the store chosen by one URL, connections for
the read side, and the few queries eventsourcing's recorders do not offer, one class per store
(`sqlite.py`, `postgres.py`). Nothing here knows about cases, the API or auditing."""
