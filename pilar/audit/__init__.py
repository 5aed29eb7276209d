"""What auditors need: event history and feed, tamper evidence (seals), exports and the access
log of personal-data reads. (The workload views as they were at a past moment are replayed by
the read side: pilar/projections/as_of.py.)"""
