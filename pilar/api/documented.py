"""Every error a view can answer is documented in the OpenAPI document."""

from collections.abc import Callable

from pilar.api.schemas import Problem


def errors(blp, described: dict[int, str], *codes: int) -> Callable:
    def decorate(view: Callable) -> Callable:
        documented = view
        for code in codes:
            documented = blp.alt_response(code, schema=Problem, description=described[code])(documented)
        # flask-smorest wraps the view once per documented answer, each wrapper only passing the
        # call on (up to ten per write): the view keeps the documentation and none of the wrappers.
        for name, value in vars(documented).items():
            if name != "__wrapped__":
                setattr(view, name, value)
        return view

    return decorate


def body_and_answer(blp, body_schema, answer_schema, described: dict[int, str], *codes: int) -> Callable:
    """A view's request body, its answer (200) and its documented errors, as writes declare them."""
    def decorate(view: Callable) -> Callable:
        view = errors(blp, described, *codes)(view)
        view = blp.response(200, answer_schema)(view)
        return blp.arguments(body_schema)(view)

    return decorate
