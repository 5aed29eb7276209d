"""One load-generating client process: repeats one kind of request for a fixed time and
reports latencies. Bounded in time; sends traffic only to the given loopback URL."""

import json
import random
import sys
import time
from datetime import date, timedelta

import requests


def main(url: str, token: str, mode: str, seconds: float, seed: int, targets: list[str]) -> dict:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    body = {"due_on": (date.today() + timedelta(days=30)).isoformat(), "purpose": "bench"}
    latencies, statuses = [], {}
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        if mode == "write":
            response = session.post(f"{url}/api/v1/cases/{rng.choice(targets)}/follow-ups", json=body, timeout=30)
        elif mode == "workload":
            response = session.get(f"{url}/api/v1/workloads/{rng.choice(targets)}", timeout=30)
        elif mode == "list":
            response = session.get(f"{url}/api/v1/cases?pillar={rng.choice(targets)}&per_page=20", timeout=30)
        elif mode == "hello":
            response = session.get(f"{url}/hello", timeout=30)
        elif mode == "thin":
            response = session.post(f"{url}/thin/{rng.choice(targets)}", timeout=30)
        else:
            raise SystemExit(f"unknown mode {mode}")
        latencies.append(time.perf_counter() - start)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return {"latencies": latencies, "statuses": statuses}


if __name__ == "__main__":
    url, token, mode, seconds, seed, targets = sys.argv[1:7]
    print(json.dumps(main(url, token, mode, float(seconds), int(seed), targets.split(","))))
