"""Every error a view can answer is documented in the OpenAPI document."""

from collections.abc import Callable

from api.schemas import Problem


def errors(blp, described: dict[int, str], *codes: int) -> Callable:
    def decorate(view: Callable) -> Callable:
        for code in codes:
            view = blp.alt_response(code, schema=Problem, description=described[code])(view)
        return view

    return decorate
