"""What auditors need: event history and feed, tamper evidence (seals), exports, the access
log of personal-data reads, and the workload views as they were at a past moment."""
