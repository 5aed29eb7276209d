"""A hypothesis fuzz of the write endpoints' JSON bodies: random JSON values and shapes, wrong
types, huge numbers, odd strings, missing and extra fields, malformed bytes. Never a 5xx, every
error is the documented JSON problem, and nothing is appended on any 4xx."""

import json
import time
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from reliability import harness, report
from testkit import factories

TODAY = date.today()

odd_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Zs", "Co"]), max_size=10),  # lone surrogates, controls
    st.sampled_from(["", " ", "\u0000", "null", "NaN", "9" * 400, "x" * 70_000, "\ud800", "' OR 1=1 --",
                     "<script>", "%s%s", "2026-02-30", "9999-12-31", "0000-01-01", "1e309", "３５０１"]),
)
huge = st.one_of(st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
                 st.sampled_from([2**63, -(2**63) - 1, 10**13 + 1, 10**309 if False else 10**300, 0, -1]))
scalars = st.one_of(st.none(), st.booleans(), huge, st.floats(allow_nan=True, allow_infinity=True), odd_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(odd_text, inner, max_size=5)),
                           max_leaves=20)


def valid_bodies(real: dict) -> dict[str, dict]:
    due = (TODAY + timedelta(days=20)).isoformat()
    given = (TODAY - timedelta(days=1)).isoformat()
    case, ben = real["case_id"], real["beneficiary_id"]
    return {
        "/api/v1/beneficiaries": factories.person(),
        f"/api/v1/beneficiaries/{ben}/corrections": {"changes": {"name": "Mbah Sainem"}, "reason": "typo"},
        f"/api/v1/beneficiaries/{ben}/consent": {"given_by": "anak", "method": "written", "purpose": "layanan"},
        f"/api/v1/beneficiaries/{ben}/consent/withdrawal": {"reason": "moved"},
        "/api/v1/cases": factories.case(ben),
        f"/api/v1/cases/{case}/assignment": {"worker": "wati"},
        f"/api/v1/cases/{case}/assessments": factories.assessment(),
        f"/api/v1/cases/{case}/aid": factories.aid(given_on=given),
        f"/api/v1/cases/{case}/follow-ups": {"due_on": due, "purpose": "visit"},
        f"/api/v1/cases/{case}/follow-ups/{real['follow_up_id']}/completion": {"outcome": "stable", "notes": ""},
        f"/api/v1/cases/{case}/referrals": {"to_pillar": "psm", "reason": "needs psm"},
        f"/api/v1/cases/{case}/referrals/{real['referral_id']}/acceptance": {},
        f"/api/v1/cases/{case}/referrals/{real['referral_id']}/decline": {"reason": "full"},
        f"/api/v1/cases/{case}/lawful-basis": {"lawful_basis": "vital_interest", "reason": "flood"},
        f"/api/v1/cases/{case}/closure": {"outcome": "graduated", "note": ""},
        f"/api/v1/cases/{case}/reopening": {"reason": "again"},
        f"/api/v1/beneficiaries/{ben}/erasure-request": {"reason": "asked"},
        # last: erasure would make the person's other writes refuse for good
        f"/api/v1/beneficiaries/{ben}/erasure": {"reason": "asked"},
    }


def mutated(valid: dict):
    """The valid body with fields replaced by random values, dropped, or joined by strangers."""
    keys = sorted(valid)
    replace = st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)) if keys else st.just({})
    drop = st.sets(st.sampled_from(keys)) if keys else st.just(set())
    extra = st.dictionaries(odd_text, json_values, max_size=2)
    return st.builds(lambda r, d, e: {**{k: v for k, v in valid.items() if k not in d}, **r, **e},
                     replace, drop, extra)


def encoded(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@pytest.mark.slow
def test_fuzzed_bodies_never_fail_and_append_nothing_on_rejection(service, staff, client, auth, store_kind):
    real = harness.seed_records(service, staff)
    headers = auth("dinsos")  # a supervisor of every pillar: requests get past the role checks
    started = time.monotonic()
    sent, answers, failures = 0, {}, []
    for path, valid in valid_bodies(real).items():
        bodies = st.one_of(
            mutated(valid).map(encoded),
            json_values.map(encoded),
            st.binary(max_size=200),
            st.sampled_from([b"", b"{", b"[]", b"null", b'{"a":1}{"b":2}', b"\xff\xfe", b'{"x": 1e99999}',
                             b"[" * 5000 + b"]" * 5000, b'"' + b"\\ud800" + b'"']),
        )

        @hypothesis_settings(max_examples=harness.FUZZ_EXAMPLES, deadline=None, database=None,
                             derandomize=harness.FUZZ_EXAMPLES <= 50, phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        @given(body=bodies, key=st.one_of(st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e),
                                                                min_size=1, max_size=20)))
        def fuzz(body: bytes, key):
            nonlocal sent
            extra = {"Idempotency-Key": key} if key else {}
            before = service.recorder.max_notification_id()
            response = client.post(path, data=body, content_type="application/json", headers={**headers, **extra})
            after = service.recorder.max_notification_id()
            sent += 1
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            problem = None
            if response.status_code >= 500:
                problem = "server error"
            elif response.status_code >= 400:
                if after != before:
                    problem = f"appended {after - before} events on a {response.status_code}"
                elif not (response.is_json and response.json.get("code") == response.status_code):
                    problem = "not a JSON problem answer"
            if problem and len(failures) < 50:
                failures.append(f"POST {path}: {response.status_code} {problem}: {body[:200]!r} → "
                                f"{response.get_data()[:200]!r}")

        fuzz()
    report.record("JSON body fuzz", store_kind, seconds=time.monotonic() - started, requests=sent,
                  notes=f"{len(valid_bodies(real))} write endpoints, {harness.FUZZ_EXAMPLES} bodies each; "
                        f"answers {dict(sorted(answers.items()))}")
    assert failures == [], "\n".join(failures)
