"""flask-smorest's Blueprint, parsing each request with one schema instance per view."""

import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    # webargs builds a new instance of a schema *class* on every request, which costs a write
    # a tenth of a millisecond; marshmallow schemas keep no state between loads, so one serves all.
    def arguments(self, schema, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)
