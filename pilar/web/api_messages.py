"""The API's error messages in Indonesian for a client that asks (Accept-Language: id), from the
pages' catalogue: one translation per message, none kept a second time. `code`, `rule` and the
field `errors` stay English for programs; only `message`, for people, changes. Installed on the
API's error answers (pilar/api/errors.py) by init_web."""

from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _

from pilar.api.errors import TRANSLATOR
from pilar.web.errors import _titles
from pilar.web.forms import rule_message


def _by_status() -> dict[int, str]:
    return {
        401: _("Sign in first: no valid token was sent, or it has ended."),
        403: _("Your role, pillar or kecamatan does not allow this."),
        404: _("There is no such record."),
        409: _("The record's state does not allow this now: see rule."),
        412: _("The record changed after you read it, so nothing was saved: read it again, then send your change."),
        422: _("Some fields are not valid: see errors."),
    }


def translate(code: int, message: str, extra: dict[str, Any]) -> str:
    with force_locale("id"):
        rule = extra.get("rule")
        if rule == "nik_unique":
            return _("This NIK is already registered to another person.")
        if rule and (translated := rule_message(rule, message)) != message:
            return translated
        return _by_status().get(code) or _titles().get(code) or message


def install(app: Flask) -> None:
    app.extensions[TRANSLATOR] = translate
