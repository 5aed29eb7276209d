"""Kept encodings of view answers: reused only for the very same object, never for a look-alike."""

import json

import pytest
from flask import Flask
from marshmallow import Schema, fields

from pilar.api.encoded import EncodedParts, fresh_response
from pilar.projections.service import Freshness


class Part(Schema):
    pillar = fields.String()
    open_cases = fields.Integer()


@pytest.fixture(autouse=True)
def app_context():
    with Flask("encoded").app_context():
        yield


def test_a_part_is_dumped_with_its_schema_and_kept_while_it_is_the_same_object():
    parts = EncodedParts(Part())
    part = {"pillar": "pkh", "open_cases": 3, "not_documented": "dropped"}
    first = parts(part)
    assert json.loads(first) == {"pillar": "pkh", "open_cases": 3}
    assert parts(part) is first


def test_an_equal_or_changed_object_is_encoded_afresh():
    parts = EncodedParts(Part())
    part = {"pillar": "pkh", "open_cases": 3}
    first = parts(part)
    look_alike = dict(part)
    assert parts(look_alike) == first and parts(look_alike) is not first
    newer = {"pillar": "pkh", "open_cases": 4}
    assert json.loads(parts(newer))["open_cases"] == 4


def test_the_kept_encodings_are_bounded():
    parts = EncodedParts(Part(), limit=3)
    kept = [{"pillar": "pkh", "open_cases": n} for n in range(10)]
    for part in kept:
        parts(part)
    assert len(parts._kept) <= 3
    assert [json.loads(parts(part))["open_cases"] for part in kept] == list(range(10))


def test_position_and_lag_join_the_encoded_members():
    parts = EncodedParts(Part())
    fresh = Freshness(position=7, head=10)
    detail = fresh_response(fresh, parts({"pillar": "pkh", "open_cases": 2}))
    assert detail.mimetype == "application/json"
    assert detail.json == {"position": 7, "lag": 3, "pillar": "pkh", "open_cases": 2}
    listed = fresh_response(fresh, b'{"pillars":' + parts.array([{"pillar": "a"}, {"pillar": "b"}]) + b"}")
    assert listed.json == {"position": 7, "lag": 3, "pillars": [{"pillar": "a"}, {"pillar": "b"}]}
    assert fresh_response(Freshness(position=9, head=5), b"{}").json == {"position": 9, "lag": 0}
