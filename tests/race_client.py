"""One racing client process: records follow-ups on random cases and reports what was acknowledged."""

import json
import random
import sys
from datetime import date, timedelta

import requests


def race(url: str, token: str, case_ids: list[str], writes: int, seed: int) -> dict:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    acked, statuses = [], {}
    body = {"due_on": (date.today() + timedelta(days=30)).isoformat(), "purpose": "race"}
    for _ in range(writes):
        case_id = rng.choice(case_ids)
        response = session.post(f"{url}/api/v1/cases/{case_id}/follow-ups", json=body, timeout=60)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 200:
            answer = response.json()
            acked.append([case_id, answer["version"], answer["position"], answer["follow_up_id"]])
    return {"acked": acked, "statuses": statuses}


if __name__ == "__main__":
    url, token, cases, writes, seed = sys.argv[1:6]
    print(json.dumps(race(url, token, cases.split(","), int(writes), int(seed))))
