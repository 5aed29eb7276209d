"""The case page's forms, each posted to its own URL and run through the same command as the API's
(pilar/cases/casework.py), with the form's case version and Idempotency-Key (pilar/web/writes.py)."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import flash, redirect, url_for

from pilar.cases.write_path import WriteOptions, WriteResult
from pilar.web import blp
from pilar.web.case_forms import DONE, FORMS
from pilar.web.case_pages import render_case
from pilar.web.forms import Filled
from pilar.web.session import current_actor, services
from pilar.web.writes import submit


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
