"""Every message of the pages in both languages: English (the message ids) and Bahasa Indonesia
(pilar/web/translations/id), the compiled catalogue the same as its source, every vocabulary code
labelled, the input rules' messages translated; and dates and rupiah in Indonesian form."""

import re
from datetime import date

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from pilar.cases import inputs, vocab
from pilar.cases.errors import InvalidInput
from pilar.settings import PROJECT_ROOT
from pilar.web import i18n
from pilar.web.forms import MESSAGES, field_errors, translated
from pilar.cases.vocabularies import CODES
from pilar.web import labels

CATALOGUE = PROJECT_ROOT / "pilar" / "web" / "translations" / "id" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _used() -> set:
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(PROJECT_ROOT / "pilar" / "web", METHODS, keywords=keywords):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalogue():
    with open(CATALOGUE / "messages.po", "rb") as f:
        return read_po(f)


def test_every_message_of_the_pages_has_an_indonesian_translation():
    catalogue = _catalogue()
    translated_ids = {}
    for message in catalogue:
        if message.id:
            translated_ids[message.id] = message
    used = _used()
    missing = [m for m in used if m not in translated_ids]
    assert not missing, f"messages without an Indonesian translation (make translations): {missing}"
    untranslated = [m.id for m in translated_ids.values()
                    if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert not untranslated, untranslated
    unused = [m for m in translated_ids if m not in used]
    assert not unused, f"translations of messages no longer used: {unused}"


def test_translations_keep_their_placeholders():
    for message in _catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert set(PLACEHOLDER.findall(ids[0])) == set().union(*(PLACEHOLDER.findall(s) for s in strings)), message.id


def test_the_compiled_catalogue_is_the_source_catalogue():
    with open(CATALOGUE / "messages.mo", "rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    source = {_key(m.id): _key(m.string) for m in _catalogue() if m.id}
    assert compiled == source, "pilar/web/translations/id/LC_MESSAGES/messages.mo is stale: run make translations"


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_every_vocabulary_code_has_a_label_in_both_languages_from_the_one_label_file(app):
    """The pages label codes from pilar/cases/vocabularies.py (what GET /api/v1/vocabularies answers), in
    the reader's language; every page kind names a vocabulary there."""
    assert set(labels.VOCABULARY_OF.values()) <= set(CODES)
    for language, expected in (("id", "Lanjut usia terlantar"), ("en", "Neglected older person")):
        with app.test_request_context("/"):
            from flask import session

            session["lang"] = language
            for kind, name in labels.VOCABULARY_OF.items():
                options = labels.options(kind)
                assert [code for code, _ in options] == list(CODES[name]), kind
                assert all(text and text != code for code, text in options), (kind, language)
            assert labels.label("ppks", "lansia_terlantar").lower() == expected.lower()
            assert set(vocab.PILLARS) <= {code for code, _ in labels.options("source")}


@pytest.fixture
def in_app(app):
    with app.test_request_context("/"):
        yield


def test_dates_and_rupiah_in_indonesian_form(in_app):
    with force_locale("id"):
        assert i18n.tanggal(date(2026, 11, 29)) == "29 Nov 2026"
        assert i18n.tanggal(date(2026, 5, 1)) == "1 Mei 2026"
        assert i18n.tanggal("2026-08-17T03:00:00.000000Z") == "17 Agu 2026"
        assert i18n.waktu("2026-08-16T20:30:00+00:00") == "17 Agu 2026 03.30 WIB"  # Asia/Jakarta
        assert i18n.rupiah(1_500_000) == "Rp1.500.000"
    with force_locale("en"):
        assert i18n.tanggal(date(2026, 5, 1)) == "1 May 2026"
        assert i18n.rupiah(1_500_000) == "Rp1.500.000"  # rupiah always in Indonesian form


def _problems(check, *args, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as raised:
        check(*args, **kwargs)
    return raised.value.errors


def test_the_input_rules_messages_are_translated(in_app):
    """The messages the application service's input rules raise, as a page shows them."""
    raised = [
        _problems(inputs.check_assessment, ["nothing"], "extreme", "", {"value": 11, "period": "kemarin"}),
        _problems(inputs.check_aid, component="x", item="x" * 201, quantity=0, unit="paket", value_idr=-1,
                  funding_source="x", given_on=date(2999, 1, 1)),
        _problems(inputs.check_follow_up, date(1999, 1, 1), "\x07"),
        _problems(inputs.check_person_fields, {"nik": "123", "sex": "X", "name": "", "phone": "call me"}),
        _problems(inputs.check_person_fields, {"nik": "0001004507510000"}),
    ]
    with force_locale("id"):
        for errors in raised:
            for name, messages in field_errors(errors).items():
                for message in messages:
                    assert message not in _english(errors), (name, message)
    assert len(MESSAGES) >= 15


def _english(errors: dict) -> set:
    found = set()
    for value in errors.values():
        found |= _english(value) if isinstance(value, dict) else set(value)
    return found


def test_an_unknown_message_is_shown_as_written(in_app):
    with force_locale("id"):
        assert translated("something new") == "something new"
        assert translated("must not be empty") == "Wajib diisi."
