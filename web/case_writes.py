"""The case page's forms, each posted to its own URL and run through the same command as the API's
(cases/casework.py). A form carries the case version it was rendered at (sent as If-Match: a
stale form says so instead of overwriting) and an Idempotency-Key made when it was rendered (a
second submit of the same form replays the first and appends nothing)."""

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from cases.errors import IdempotencyKeyReused, InvalidInput, RuleBroken, StaleVersion
from cases.write_path import Idempotency, WriteOptions, WriteResult
from web import blp
from web.case_pages import render_case
from web.case_forms import DONE, FORMS
from web.forms import Field, Filled, TypeProblems, arguments, field_errors, rule_message
from web.session import current_actor, services

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

def write_options(args: dict[str, Any]) -> WriteOptions:
    """The form's case version (If-Match) and Idempotency-Key, as the API reads them from headers."""
    version = request.form.get("version", "")  # none on forms that create a record
    if version and (not version.isdigit() or len(version) > 9):
        raise BadRequest("the form's case version is not a number: reload the page")
    key = request.form.get("idempotency_key", "")
    if not _KEY.match(key):
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


def _case_form(name: str, case_id: UUID, command: Callable[[dict[str, Any], WriteOptions], WriteResult]):
    result = submit(FORMS[name], command)
    if isinstance(result, Filled):
        return render_case(case_id, name, result, 409 if result.message else 422)
    flash(str(DONE[name]))
    return redirect(url_for("web.case_page", case_id=case_id) + "#timeline", 303)


def _route(name: str, rule: str, method: str, *ids: str, to_me: bool = False) -> None:
    """POST `rule` runs the application service's `method` with the form's arguments (`to_me`: and
    the signed-in user as the worker)."""

    def view(case_id: UUID, **path: str):
        def command(args: dict[str, Any], options: WriteOptions) -> WriteResult:
            run = getattr(services().cases, method)
            actor = current_actor()
            mine = {"worker": actor.username} if to_me else {}
            return run(actor, case_id, *(path[i] for i in ids), **args, **mine, options=options)

        return _case_form(name, case_id, command)

    blp.add_url_rule(f"/cases/<uuid:case_id>{rule}", f"case_{name}", view, methods=["POST"])


_route("assignment", "/assignment", "assign_case", to_me=True)
_route("assessment", "/assessments", "assess_case")
_route("aid", "/aid", "give_aid")
_route("follow_up", "/follow-ups", "schedule_follow_up")
_route("completion", "/follow-ups/<string:follow_up_id>/completion", "complete_follow_up", "follow_up_id")
_route("referral", "/referrals", "send_referral")
_route("acceptance", "/referrals/<string:referral_id>/acceptance", "accept_referral", "referral_id")
_route("decline", "/referrals/<string:referral_id>/decline", "decline_referral", "referral_id")
_route("closure", "/closure", "close_case")
_route("reopening", "/reopening", "reopen_case")
