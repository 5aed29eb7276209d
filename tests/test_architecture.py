"""The layers' import rules (docs/architecture.md), checked on the source: a forbidden import
anywhere in a module, at the top or inside a function, fails here."""

import ast
from pathlib import Path

import pytest

from pilar.settings import PROJECT_ROOT

LAYERS = ("cases", "store", "projections", "audit", "api", "web")
ENTRY_POINTS = ("bootstrap", "settings", "wsgi", "cli", "cli_users", "cli_projections", "cli_backup", "demo",
                "log_format")
TOP_LEVEL = (*LAYERS, *ENTRY_POINTS, "testkit", "tests", "bench", "reliability")

# package -> what it must never import
FORBIDDEN = {
    # The domain and application service: no web, no read side, no auditing, no store plumbing.
    "cases": {"api", "web", "projections", "audit", "store", *ENTRY_POINTS, "testkit", "tests"},
    # Store plumbing knows nothing of what it stores.
    "store": {"cases", "api", "web", "projections", "audit", *ENTRY_POINTS, "testkit", "tests"},
    # Auditing reads the events and seals; the read side may call it (seals), never the reverse.
    "audit": {"api", "web", "projections", *ENTRY_POINTS, "testkit", "tests"},
    "projections": {"api", "web", "wsgi", "cli", "cli_users", "cli_projections", "cli_backup", "demo", "testkit",
                    "tests"},
    "api": {"web", "wsgi", "cli", "cli_users", "cli_projections", "cli_backup", "demo", "testkit", "tests"},
    # Pages reuse the API's HTTP plumbing (rate limits, security log), never the other way round.
    "web": {"wsgi", "cli", "cli_users", "cli_projections", "cli_backup", "demo", "testkit", "tests"},
    "bench": {"tests"},
    "reliability": {"tests"},
}
PRODUCT = (*LAYERS, *ENTRY_POINTS)
LONGEST_MODULE = 350


def _modules(package: str) -> list[Path]:
    path = PROJECT_ROOT / package
    return sorted(path.rglob("*.py")) if path.is_dir() else [PROJECT_ROOT / f"{package}.py"]


def imported_packages(source: Path) -> set[str]:
    """The top-level project packages a module imports, wherever in the module."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(TOP_LEVEL)
    return found


@pytest.mark.parametrize("package", FORBIDDEN)
def test_no_forbidden_imports(package):
    offences = [f"{module.relative_to(PROJECT_ROOT)} imports {', '.join(sorted(bad))}"
                for module in _modules(package)
                if (bad := imported_packages(module) & FORBIDDEN[package])]
    assert not offences, "\n".join(offences)


def test_the_layers_import_each_other_in_no_circle():
    graph = {package: set().union(*(imported_packages(m) for m in _modules(package))) & set(LAYERS) - {package}
             for package in LAYERS}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(step == goal or (step not in seen and reaches(step, goal, seen | {step}))
                   for step in graph[start])

    circles = [package for package in LAYERS if reaches(package, package)]
    assert not circles, f"import circles through {circles}: {graph}"


def test_the_rule_catches_a_forbidden_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def later():\n    from projections.queries import CaseFilter\n")
    assert imported_packages(module) == {"projections"}


@pytest.mark.parametrize("package", PRODUCT)
def test_modules_stay_small(package):
    long = [f"{m.relative_to(PROJECT_ROOT)}: {n} lines" for m in _modules(package)
            if (n := len(m.read_text().splitlines())) > LONGEST_MODULE]
    assert not long, long


def test_stored_event_topics_keep_their_module_paths():
    """Stored events name their class by module path: moving one needs eventsourcing's
    register_topic for the old path (and a test loading an old event), not just a move."""
    from eventsourcing.utils import get_topic

    from pilar.cases.account import UserAccount
    from pilar.cases.beneficiary import Beneficiary, NikClaim
    from pilar.cases.case import Case
    from pilar.cases.idempotency import IdempotencyRecord

    assert get_topic(Case.AidGiven) == "cases.case:Case.AidGiven"
    assert get_topic(Beneficiary.BeneficiaryRegistered) == "cases.beneficiary:Beneficiary.BeneficiaryRegistered"
    assert get_topic(NikClaim.NikClaimed) == "cases.beneficiary:NikClaim.NikClaimed"
    assert get_topic(UserAccount.UserAdded) == "cases.account:UserAccount.UserAdded"
    assert get_topic(IdempotencyRecord.WriteAnswered) == "cases.idempotency:IdempotencyRecord.WriteAnswered"
