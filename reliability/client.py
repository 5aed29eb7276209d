"""One writer process of the reliability suite.

For a fixed time it writes follow-ups (and some aid) on a few cases through the real server,
each request with its own Idempotency-Key, and records what became of every request:

- ``acked``: the server answered 200 (perhaps to a retry): kind, case, version, position,
  key, follow_up_id, how many attempts it took, whether the answer was a replay;
- ``unknown``: no answer was ever read (connection error, timeout, 5xx on every attempt):
  the write may or may not exist, but at most once;
- ``rejected``: a definite 4xx on a request that never had an unanswered attempt: it must
  not exist.

The key is also written into the event itself (the follow-up's ``purpose``, the aid's
``item``), so the checker can tell which request each stored event came from.

Every loop is bounded in time and count. Run: python -m reliability.client CONFIG_JSON OUT_JSON
"""

import json
import os
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

MAX_REQUESTS = 200_000        # per client, whatever the duration
RETRY_SECONDS = 45.0          # how long one write is retried after its deadline passed
MAX_ATTEMPTS = 60
READ_SHARE = 0.1
AID_SHARE = 0.2


def _today() -> "datetime.date":
    return datetime.now(ZoneInfo("Asia/Jakarta")).date()


def body_for(kind: str, key: str) -> dict:
    today = _today()
    if kind == "aid":
        return {"component": "basic_needs", "item": key, "quantity": 1, "unit": "paket", "value_idr": 1000,
                "funding_source": "apbd", "given_on": (today - timedelta(days=1)).isoformat()}
    return {"due_on": (today + timedelta(days=30)).isoformat(), "purpose": key}


def run(config: dict) -> dict:
    url, name = config["url"], config["name"]
    rng = random.Random(config["seed"])
    deadline = time.monotonic() + config["seconds"]
    stop_file = config.get("stop_file")  # if given: write until it exists (at most `seconds`)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {config['token']}"
    statuses: Counter = Counter()
    acked, unknown, rejected, unexpected = [], [], [], []
    sent = connection_errors = reads = 0
    n = 0

    def send(method: str, path: str, **kwargs):
        nonlocal sent, connection_errors
        sent += 1
        try:
            response = session.request(method, url + path, timeout=30, **kwargs)
        except requests.RequestException as error:
            connection_errors += 1
            statuses["connection-error"] += 1
            return None, type(error).__name__
        statuses[str(response.status_code)] += 1
        if response.status_code >= 500 and response.status_code != 503:
            unexpected.append([method, path, response.status_code, response.text[:300]])
        return response, None

    def go_on() -> bool:
        if stop_file and os.path.exists(stop_file):
            return False
        return time.monotonic() < deadline and sent < MAX_REQUESTS

    while go_on():
        case_id = rng.choice(config["case_ids"])
        if rng.random() < READ_SHARE:
            reads += 1
            path = rng.choice([f"/api/v1/cases/{case_id}", "/api/v1/workloads/pkh", "/api/v1/cases?pillar=pkh"])
            response, _ = send("GET", path)
            if response is not None and response.status_code not in (200, 503):
                unexpected.append(["GET", path, response.status_code, response.text[:300]])
            continue
        n += 1
        kind = "aid" if rng.random() < AID_SHARE else "follow-up"
        key = f"{name}-{n:06d}"
        path = f"/api/v1/cases/{case_id}/{'aid' if kind == 'aid' else 'follow-ups'}"
        body = body_for(kind, key)
        headers = {"Idempotency-Key": key}
        unanswered = 0  # attempts whose outcome we never learnt
        give_up = max(deadline, time.monotonic()) + RETRY_SECONDS
        outcome = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response, error = send("POST", path, json=body, headers=headers)
            if response is not None and response.status_code == 200:
                answer = response.json()
                acked.append({"kind": kind, "case_id": case_id, "version": answer["version"],
                              "position": answer["position"], "key": key,
                              "follow_up_id": answer.get("follow_up_id"), "attempts": attempt,
                              "replayed": response.headers.get("Idempotent-Replayed") == "true",
                              "at": time.time()})
                outcome = "acked"
                break
            if response is not None and 400 <= response.status_code < 500:
                entry = {"kind": kind, "case_id": case_id, "key": key, "status": response.status_code,
                         "body": response.text[:300], "after_unanswered": unanswered}
                if unanswered:
                    unknown.append(entry)  # an earlier attempt may still have been stored
                else:
                    rejected.append(entry)
                if response.status_code != 409:
                    unexpected.append(["POST", path, response.status_code, response.text[:300]])
                outcome = "answered"
                break
            unanswered += 1  # connection error, timeout, 503 or another 5xx: retry with the same key
            if time.monotonic() > give_up:
                break
            time.sleep(min(1.0, 0.05 * 2 ** min(attempt, 5)) * (0.5 + rng.random()))
        if outcome is None:
            unknown.append({"kind": kind, "case_id": case_id, "key": key, "status": None, "body": "",
                            "after_unanswered": unanswered})
    return {"name": name, "sent": sent, "reads": reads, "writes": n, "statuses": dict(statuses),
            "connection_errors": connection_errors, "acked": acked, "unknown": unknown, "rejected": rejected,
            "unexpected": unexpected}


if __name__ == "__main__":
    config_path, out_path = sys.argv[1:3]
    with open(config_path) as f:
        result = run(json.load(f))
    with open(out_path, "w") as f:
        json.dump(result, f)
