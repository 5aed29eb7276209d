"""Accounts carry the scope the policy reads: the kecamatan a user serves and whether they read
personal data in clear, from the account to the Actor behind every token."""

import pytest
from argon2 import extract_parameters, profiles

from pilar.cases.access import SYSTEM
from pilar.cases.errors import InvalidInput
from testkit.fixtures import PASSWORD


def test_a_users_kecamatan_and_pii_reach_the_actor_behind_their_token(service, services):
    service.add_user(SYSTEM, "tksk.ngadirojo", "worker", "tksk", PASSWORD, kecamatan=("35.01.09",), pii=False)
    signed_in = services.signin.sign_in("tksk.ngadirojo", PASSWORD)
    assert (signed_in["kecamatan"], signed_in["pii"]) == (["35.01.09"], False)
    actor = services.signin.actor(signed_in["token"])
    assert (actor.pillar, actor.kecamatan, actor.pii) == ("tksk", ("35.01.09",), False)


@pytest.mark.parametrize(("role", "pillar", "pii"), [("worker", "pkh", True), ("supervisor", None, True),
                                                     ("auditor", None, False), ("admin", None, False)])
def test_without_a_choice_workers_and_supervisors_read_personal_data_auditors_and_admins_do_not(
        service, services, role, pillar, pii):
    service.add_user(SYSTEM, "someone", role, pillar, PASSWORD)
    actor = services.signin.actor(services.signin.sign_in("someone", PASSWORD)["token"])
    assert (actor.kecamatan, actor.pii) == ((), pii)


@pytest.mark.parametrize(("kecamatan", "message"), [(("35.01.99",), "not a kecamatan of Kabupaten Pacitan: 35.01.99"),
                                                     (("35.01.04.1001",), "not a kecamatan"),
                                                     (("35.01.04", "35.01.04"), "names a kecamatan twice")])
def test_a_scope_naming_no_kecamatan_of_the_regency_is_refused(service, kecamatan, message):
    with pytest.raises(InvalidInput) as refused:
        service.add_user(SYSTEM, "tksk.x", "worker", "tksk", PASSWORD, kecamatan=kecamatan)
    assert message in str(refused.value.errors["kecamatan"])
    assert service.user("tksk.x") is None


def test_the_product_hashes_passwords_at_argon2s_rfc_9106_strength_and_so_checks_unknown_users(quick_passwords):
    """The suite hashes at argon2's cheapest (testkit/fixtures.py); the product never does, and a
    sign-in as nobody costs what one as a real user costs."""
    hasher, dummy_hash = quick_passwords
    assert extract_parameters(hasher.hash(PASSWORD)) == profiles.RFC_9106_LOW_MEMORY
    assert extract_parameters(dummy_hash) == profiles.RFC_9106_LOW_MEMORY
    assert hasher.verify(dummy_hash, "pilar-timing-equaliser")
