"""A form's write: its fields into a command's arguments, the form's case version as If-Match (a
stale form says so instead of overwriting) and its Idempotency-Key, made when the form was
rendered (a second submit of the same form replays the first and appends nothing), fed to the
same write path as the API's headers are (pilar/api/writes.py); and what went wrong, by field or for
the whole form, in the reader's language."""

from collections.abc import Callable
from typing import Any

from flask import request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from pilar.api.writes import IDEMPOTENCY_KEY
from pilar.cases.errors import IdempotencyKeyReused, InvalidInput, RuleBroken, StaleVersion
from pilar.cases.write_path import Idempotency, WriteOptions, WriteResult
from pilar.web.forms import Field, Filled, TypeProblems, arguments, field_errors, rule_message
from pilar.web.session import services


def write_options(args: dict[str, Any]) -> WriteOptions:
    """The form's case version (If-Match) and Idempotency-Key, as the API reads them from headers."""
    version = request.form.get("version", "")  # none on forms that create a record
    if version and (not version.isdigit() or len(version) > 9):
        raise BadRequest("the form's case version is not a number: reload the page")
    key = request.form.get("idempotency_key", "")
    if not IDEMPOTENCY_KEY.match(key):
        raise BadRequest("the form has no Idempotency-Key: reload the page")
    idempotency = Idempotency.of_request(services().cases.lookup, key, "POST", request.path, args)
    return WriteOptions(expected_version=int(version) if version else None, idempotency=idempotency)


def submit(fields: list[Field], command: Callable[[dict[str, Any], WriteOptions], WriteResult]) -> Filled | WriteResult:
    """Runs the form's command; what went wrong, by field or for the whole form, otherwise."""
    filled = Filled(values=request.form)
    try:
        args = arguments(fields, request.form)
        return command(args, write_options(args))
    except TypeProblems as exc:
        filled.errors.update(exc.errors)
    except InvalidInput as exc:
        filled.errors.update(field_errors(exc.errors))
    except StaleVersion:
        filled.message = _("Someone changed this case after you opened this form, so it was not saved. "
                           "Look at the timeline, then send the form again.")
    except RuleBroken as exc:
        filled.message = rule_message(exc.rule, exc.message)
    except IdempotencyKeyReused:
        filled.message = _("This form was already sent with other values. Reload the page to send it again.")
    return filled
