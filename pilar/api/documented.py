"""Every error a view can answer is documented in the OpenAPI document."""

from collections.abc import Callable

from pilar.api.schemas import Problem


def errors(blp, described: dict[int, str], *codes: int) -> Callable:
    def decorate(view: Callable) -> Callable:
        for code in codes:
            view = blp.alt_response(code, schema=Problem, description=described[code])(view)
        return view

    return decorate


def body_and_answer(blp, body_schema, answer_schema, described: dict[int, str], *codes: int) -> Callable:
    """A view's request body, its answer (200) and its documented errors, as writes declare them."""
    def decorate(view: Callable) -> Callable:
        view = errors(blp, described, *codes)(view)
        view = blp.response(200, answer_schema)(view)
        return blp.arguments(body_schema)(view)

    return decorate
