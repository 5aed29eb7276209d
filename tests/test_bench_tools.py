"""The profiling tool behind the store-size target runs, and measures what it says it does."""

from bench import projection_cost
from bench.generate import generate_into
from bench.run import catch_up, open_cases


def test_projection_cost_projects_exactly_the_follow_ups_it_wrote(settings, service, monkeypatch):
    generate_into(settings, 400, 1, False)
    catch_up(settings)
    monkeypatch.setattr(projection_cost, "WRITES", 25)
    figures = projection_cost.measure(settings, open_cases(settings, 5))
    assert figures["events"] == 25
    assert 0 < figures["us_held_per_event"] <= figures["us_per_event"]
    assert catch_up(settings) == service.recorder.max_notification_id()
