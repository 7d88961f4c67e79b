"""Check modules: the registry's naming rule, and each check's pass, fail and unknown cases."""

from __future__ import annotations

import importlib
import pkgutil
import types
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import secops.policy.checks as checks_package
from secops.policy.checks import CHECKS, CheckContext, CheckMetadata, PreviousState, registry_of
from secops.policy.conditions import Decision
from secops.policy.evaluator import snapshot
from secops.policy.facts import AccountFacts, Provenance
from secops.policy.fields import FIELDS, Group
from secops.policy.outcomes import ResultStatus

PASS, FAIL = ResultStatus.PASS, ResultStatus.FAIL
MANUAL, ERROR = ResultStatus.MANUAL, ResultStatus.ERROR
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
ATTESTED = Provenance("attested", NOW - timedelta(days=3), uuid.uuid4())
REFUSED = Provenance("api:microsoft_graph", None, None, "error", "Authorization_RequestDenied")
RULE = "MFA.TURNEDOFF.1v1"


def make_facts(
    values: dict[str, Any] | None = None,
    groups: dict[Group, Provenance | None] | None = None,
    **extra: Any,
) -> AccountFacts:
    """Every group attested three days ago unless ``groups`` says otherwise."""
    recorded: dict[Group, Provenance | None] = dict.fromkeys(Group, ATTESTED)
    recorded.update(groups or {})
    values = {**dict.fromkeys(FIELDS), "account.handle": "emb_paris", **(values or {})}
    return AccountFacts(uuid.uuid4(), uuid.uuid4(), values, recorded, **extra)


def run(
    check: str,
    facts: AccountFacts,
    *,
    previous: PreviousState | None = None,
    others: tuple[AccountFacts, ...] = (),
) -> Decision:
    """Run a registered check the way the evaluator does."""
    found = {f.account_id: f for f in others}
    ctx = CheckContext(NOW, {}, previous, found.get, RULE)
    return CHECKS[check](facts, ctx)


# -- the registry --------------------------------------------------------------------------


def test_every_check_module_is_registered_under_its_own_name() -> None:
    modules = {
        info.name for info in pkgutil.iter_modules(checks_package.__path__) if info.name != "base"
    }

    assert modules == set(CHECKS)
    for name in modules:
        module = importlib.import_module(f"secops.policy.checks.{name}")
        check = CHECKS[name]
        assert check.id == module.METADATA.id == name
        assert check.function is getattr(module, name)
        assert check.function.__name__ == name


def _module(name: str, metadata_id: str, function_name: str) -> types.ModuleType:
    module = types.ModuleType(f"secops.policy.checks.{name}")
    module.METADATA = CheckMetadata(id=metadata_id, summary="A check.", fields=())  # type: ignore[attr-defined]

    def function(facts: AccountFacts, ctx: CheckContext) -> Decision:
        return Decision(PASS, "ok")

    function.__name__ = function_name
    setattr(module, function_name, function)
    return module


@pytest.mark.parametrize(
    ("metadata_id", "function_name", "message"),
    [
        ("other_name", "account_not_dormant", "METADATA.id"),
        ("account_not_dormant", "check", "must define a function"),
    ],
)
def testregistry_of_refuses_an_id_that_is_not_the_module_and_function_name(
    metadata_id: str, function_name: str, message: str
) -> None:
    with pytest.raises(ImportError, match=message):
        registry_of(_module("account_not_dormant", metadata_id, function_name))


# -- mfa_not_turned_off --------------------------------------------------------------------


def previous_run(mfa_enabled: bool | None, status: ResultStatus = PASS) -> PreviousState:
    """The state a run a day ago left behind, with MFA as given."""
    before = make_facts({"mfa.enabled": mfa_enabled})
    return PreviousState({RULE: status}, snapshot(before, NOW - timedelta(days=1)),
                         {RULE: NOW - timedelta(days=1)})  # fmt: skip


def test_mfa_turned_off_since_the_previous_run_is_a_finding() -> None:
    decision = run(
        "mfa_not_turned_off", make_facts({"mfa.enabled": False}), previous=previous_run(True)
    )

    assert decision.status is FAIL
    assert decision.reason == (
        "MFA was turned off: it was on at the previous evaluation and is off now"
        " (attested 3 days ago)"
    )
    assert decision.details is not None
    assert decision.details["previous_mfa_enabled"] is True


def test_mfa_still_off_after_being_turned_off_stays_a_finding() -> None:
    decision = run(
        "mfa_not_turned_off",
        make_facts({"mfa.enabled": False}),
        previous=previous_run(False, status=FAIL),
    )

    assert decision.status is FAIL
    assert decision.reason.startswith("MFA was turned off and is still off")


@pytest.mark.parametrize("previous", [None, previous_run(False), previous_run(None)])
def test_mfa_that_was_never_on_is_not_this_rules_finding(previous: PreviousState | None) -> None:
    decision = run("mfa_not_turned_off", make_facts({"mfa.enabled": False}), previous=previous)

    assert decision.status is PASS


def test_mfa_on_passes_and_unknown_mfa_is_not_a_pass() -> None:
    on = run("mfa_not_turned_off", make_facts({"mfa.enabled": True}), previous=previous_run(True))
    never = run(
        "mfa_not_turned_off", make_facts(groups={Group.MFA: None}), previous=previous_run(True)
    )
    refused = run("mfa_not_turned_off", make_facts({"mfa.enabled": False}, {Group.MFA: REFUSED}))
    blank = run("mfa_not_turned_off", make_facts({"mfa.enabled": None}))

    assert on.status is PASS
    assert (never.status, never.reason) == (MANUAL, "MFA facts were never recorded")
    assert (refused.status, refused.reason) == (
        ERROR,
        "Microsoft Graph refused: Authorization_RequestDenied",
    )
    assert blank.status is MANUAL


# -- recovery_mailbox_protected ------------------------------------------------------------


def mailbox(strongest: str | None, methods: Provenance | None = ATTESTED) -> AccountFacts:
    """An inventoried mailbox whose strongest MFA method is ``strongest``."""
    return make_facts(
        {"account.handle": "press@ministry.example", "mfa.strongest": strongest},
        {Group.MFA_METHODS: methods},
    )


def protected_by(box: AccountFacts | None, domain: str | None = "ministry.example") -> AccountFacts:
    return make_facts(
        {"recovery.email_domain": domain, "recovery.email_inventoried": box is not None},
        recovery_email_account_id=box.account_id if box is not None else None,
    )


def test_recovery_mailbox_with_a_phishing_resistant_factor_passes() -> None:
    box = mailbox("phishing_resistant")

    decision = run("recovery_mailbox_protected", protected_by(box), others=(box,))

    assert decision.status is PASS
    assert "press@ministry.example" in decision.reason
    assert decision.details is not None
    assert decision.details["recovery_mailbox"]["account_id"] == str(box.account_id)


def test_recovery_mailbox_with_a_weaker_factor_fails_naming_it() -> None:
    box = mailbox("totp")

    decision = run("recovery_mailbox_protected", protected_by(box), others=(box,))

    assert decision.status is FAIL
    assert decision.reason == (
        "Recovery mailbox press@ministry.example's strongest MFA method is authenticator code"
        " (attested 3 days ago)"
    )


def test_recovery_mail_to_a_mailbox_outside_the_inventory_fails() -> None:
    decision = run("recovery_mailbox_protected", protected_by(None, domain="gmail.com"))

    assert decision.status is FAIL
    assert decision.reason == (
        "The recovery mailbox (@gmail.com) is not in the inventory (attested 3 days ago)"
    )


def test_no_recovery_email_means_the_check_does_not_apply() -> None:
    decision = run("recovery_mailbox_protected", protected_by(None, domain=None))

    assert decision.status is ResultStatus.NOT_APPLICABLE


def test_recovery_mailbox_unknown_or_out_of_reach_is_not_a_pass() -> None:
    unknown_box = mailbox(None, methods=None)
    out_of_reach = run("recovery_mailbox_protected", protected_by(mailbox("phishing_resistant")))
    unknown = run("recovery_mailbox_protected", protected_by(unknown_box), others=(unknown_box,))
    never = run("recovery_mailbox_protected", make_facts(groups={Group.RECOVERY: None}))

    assert out_of_reach.status is MANUAL
    assert (unknown.status, unknown.reason) == (
        MANUAL,
        "Recovery mailbox press@ministry.example: MFA method facts were never recorded",
    )
    assert never.status is MANUAL


# -- credential_rotated_after_holder_left --------------------------------------------------


def holder(label: str, left_days_ago: int | None) -> dict[str, Any]:
    left = None if left_days_ago is None else NOW - timedelta(days=left_days_ago)
    return {"label": label, "person_status": "active" if left is None else "left", "left_at": left}


def rotated(days_ago: int | None, *holders: dict[str, Any]) -> AccountFacts:
    last = None if days_ago is None else NOW - timedelta(days=days_ago)
    return make_facts({"credential.last_rotated_at": last, "credential.holders": list(holders)})


def test_password_rotated_after_the_last_leaver_passes() -> None:
    decision = run(
        "credential_rotated_after_holder_left",
        rotated(5, holder("Ada", None), holder("Cleo", 20), holder("Dan", 9)),
    )

    assert decision.status is PASS
    assert decision.reason == (
        "Password last rotated 5 days ago, after Dan left 9 days ago (attested 3 days ago)"
    )


def test_password_not_rotated_since_a_holder_left_fails_naming_them() -> None:
    decision = run(
        "credential_rotated_after_holder_left",
        rotated(30, holder("Cleo", 20), holder("Dan", 9), holder("Old", 400)),
    )

    assert decision.status is FAIL
    assert decision.reason == (
        "Password last rotated 30 days ago, before Cleo left 20 days ago;"
        " and 1 more password holder (attested 3 days ago)"
    )


def test_no_leaver_passes_and_missing_dates_are_not_a_pass() -> None:
    nobody_left = run("credential_rotated_after_holder_left", rotated(None, holder("Ada", None)))
    no_rotation = run("credential_rotated_after_holder_left", rotated(None, holder("Cleo", 4)))
    undated = {"label": "Eve", "person_status": "left", "left_at": None}
    no_leave_date = run("credential_rotated_after_holder_left", rotated(3, undated))
    refused = run(
        "credential_rotated_after_holder_left",
        make_facts(groups={Group.CREDENTIAL: REFUSED}),
    )

    assert nobody_left.status is PASS
    assert no_rotation.status is MANUAL
    assert no_leave_date.status is MANUAL
    assert refused.status is ERROR
