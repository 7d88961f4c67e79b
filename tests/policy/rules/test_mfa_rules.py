"""The baseline's MFA rules: on, enforced, phishing-resistant, no phone or e-mail codes, not off."""

from __future__ import annotations

import pytest

from secops.policy.evaluator import CompiledPolicy
from secops.policy.fields import Group
from tests.policy.rules.conftest import (
    ERROR,
    FAIL,
    GRAPH_DENIED,
    MANUAL,
    NOT_APPLICABLE,
    PASS,
    Case,
    build_facts,
    check_case,
    evaluate_all,
)

M365_SERVICE = {"account.platform": "microsoft365", "account.tier": "service"}
SMS_ONLY = {
    "mfa.methods": ["sms"],
    "mfa.strengths": ["phone_email"],
    "mfa.strongest": "phone_email",
    "mfa.phone_factor": True,
}
APP_ONLY = {
    "mfa.methods": ["authenticator_app"],
    "mfa.strengths": ["totp"],
    "mfa.strongest": "totp",
}

CASES = [
    # MFA.ENABLED.1v1
    Case("MFA.ENABLED.1v1", PASS, "MFA is on", deciding="mfa.enabled"),
    Case("MFA.ENABLED.1v1", FAIL, "MFA is off", {"mfa.enabled": False}, deciding="mfa.enabled"),
    Case("MFA.ENABLED.1v1", MANUAL, "MFA was never attested", never=(Group.MFA,)),
    Case("MFA.ENABLED.1v1", MANUAL, "the MFA state was left blank", {"mfa.enabled": None}),
    Case(
        "MFA.ENABLED.1v1", ERROR, "Graph refused the MFA report", failed={Group.MFA: GRAPH_DENIED}
    ),
    # MFA.ENFORCED.1v1
    Case(
        "MFA.ENFORCED.1v1", PASS, "the tenant enforces MFA", M365_SERVICE, deciding="mfa.enforced"
    ),
    Case(
        "MFA.ENFORCED.1v1",
        FAIL,
        "MFA is left to the user",
        M365_SERVICE | {"mfa.enforced": False},
        deciding="mfa.enforced",
    ),
    Case(
        "MFA.ENFORCED.1v1",
        ERROR,
        "the connector failed",
        M365_SERVICE,
        failed={Group.MFA: GRAPH_DENIED},
    ),
    Case(
        "MFA.ENFORCED.1v1",
        MANUAL,
        "enforcement was not recorded",
        {"mfa.enforced": None} | M365_SERVICE,
    ),
    Case("MFA.ENFORCED.1v1", NOT_APPLICABLE, "X offers no organisation-wide enforcement"),
    # MFA.PHISHRES.1v1
    Case("MFA.PHISHRES.1v1", PASS, "an ambassador's account has a key", deciding="mfa.strongest"),
    Case(
        "MFA.PHISHRES.1v1",
        FAIL,
        "an ambassador relies on an authenticator app",
        APP_ONLY,
        deciding="mfa.strongest",
    ),
    Case(
        "MFA.PHISHRES.1v1",
        FAIL,
        "the minister's only method is unrecognised",
        {
            "account.tier": "minister",
            "mfa.methods": ["qr_magic"],
            "mfa.strengths": ["unknown"],
            "mfa.strongest": "unknown",
        },
    ),
    Case("MFA.PHISHRES.1v1", MANUAL, "the methods were never recorded", never=(Group.MFA_METHODS,)),
    Case(
        "MFA.PHISHRES.1v1",
        ERROR,
        "Graph refused the methods report",
        failed={Group.MFA_METHODS: GRAPH_DENIED},
    ),
    Case(
        "MFA.PHISHRES.1v1",
        NOT_APPLICABLE,
        "the account is a mission's, not high-value",
        APP_ONLY | {"account.tier": "mission"},
    ),
    Case(
        "MFA.PHISHRES.1v1",
        NOT_APPLICABLE,
        "the platform offers no key (Telegram)",
        APP_ONLY | {"account.platform": "telegram"},
    ),
    # MFA.NOPHONE.1v1
    Case("MFA.NOPHONE.1v1", PASS, "no phone factor is registered", deciding="mfa.phone_factor"),
    Case(
        "MFA.NOPHONE.1v1",
        FAIL,
        "the ambassador's account is on SMS only",
        SMS_ONLY,
        deciding="mfa.phone_factor",
    ),
    Case(
        "MFA.NOPHONE.1v1",
        FAIL,
        "SMS remains beside a key on the minister's account",
        {"account.tier": "minister", "mfa.phone_factor": True},
    ),
    Case("MFA.NOPHONE.1v1", MANUAL, "the methods were never recorded", never=(Group.MFA_METHODS,)),
    Case(
        "MFA.NOPHONE.1v1",
        NOT_APPLICABLE,
        "a staff account uses SMS",
        SMS_ONLY | {"account.tier": "staff"},
    ),
    # MFA.NOEMAIL.1v1
    Case("MFA.NOEMAIL.1v1", PASS, "no e-mailed code is registered", deciding="mfa.email_factor"),
    Case(
        "MFA.NOEMAIL.1v1",
        FAIL,
        "an e-mailed code is a factor",
        {"mfa.email_factor": True, "account.tier": "staff"},
        deciding="mfa.email_factor",
    ),
    Case(
        "MFA.NOEMAIL.1v1",
        ERROR,
        "the methods could not be read",
        failed={Group.MFA_METHODS: GRAPH_DENIED},
    ),
    # MFA.NOFALLBACK.1v1
    Case(
        "MFA.NOFALLBACK.1v1",
        PASS,
        "a key sits beside an authenticator app only",
        deciding="mfa.strengths",
    ),
    Case(
        "MFA.NOFALLBACK.1v1", PASS, "there is no key, so there is no fallback to remove", SMS_ONLY
    ),
    Case(
        "MFA.NOFALLBACK.1v1",
        FAIL,
        "SMS remains beside a key",
        {"mfa.strengths": ["phishing_resistant", "phone_email"]},
        deciding="mfa.strengths",
    ),
    Case(
        "MFA.NOFALLBACK.1v1",
        FAIL,
        "an unrecognised method remains beside a key",
        {"mfa.strengths": ["phishing_resistant", "unknown"]},
    ),
    Case(
        "MFA.NOFALLBACK.1v1", MANUAL, "the methods were never recorded", never=(Group.MFA_METHODS,)
    ),
    # MFA.SERVICE.PHISHRES.1v1
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        PASS,
        "the break-glass account is on FIDO2",
        M365_SERVICE,
        deciding="mfa.strongest",
    ),
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        FAIL,
        "a shared mailbox relies on push approval",
        M365_SERVICE | {"mfa.strengths": ["app_push"], "mfa.strongest": "app_push"},
        deciding="mfa.strongest",
    ),
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        ERROR,
        "Graph refused the methods report",
        M365_SERVICE,
        failed={Group.MFA_METHODS: GRAPH_DENIED},
    ),
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        MANUAL,
        "the strongest method was not derived",
        M365_SERVICE | {"mfa.strongest": None},
    ),
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        NOT_APPLICABLE,
        "a service account lives on Zoom",
        M365_SERVICE | {"account.platform": "zoom"} | APP_ONLY,
    ),
    Case(
        "MFA.SERVICE.PHISHRES.1v1",
        NOT_APPLICABLE,
        "a staff member's own mailbox relies on push approval",
        M365_SERVICE | {"account.tier": "staff", "mfa.strongest": "app_push"},
    ),
    # MFA.TURNEDOFF.1v1 (check mfa_not_turned_off, against the previous run's snapshot)
    Case("MFA.TURNEDOFF.1v1", PASS, "MFA stayed on since the previous run", previous={}),
    Case("MFA.TURNEDOFF.1v1", PASS, "MFA is on and there was no previous run"),
    Case(
        "MFA.TURNEDOFF.1v1",
        FAIL,
        "MFA was on last run and is off now",
        {"mfa.enabled": False},
        previous={},
    ),
    Case(
        "MFA.TURNEDOFF.1v1",
        PASS,
        "MFA was never on (MFA.ENABLED.1v1 reports that)",
        {"mfa.enabled": False},
        previous={"mfa.enabled": False},
    ),
    Case(
        "MFA.TURNEDOFF.1v1",
        MANUAL,
        "MFA was on last run and is not recorded now",
        never=(Group.MFA,),
        previous={},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_mfa_rule_verdict(baseline: CompiledPolicy, case: Case) -> None:
    check_case(baseline, case)


def test_mfa_turned_off_is_a_critical_finding_beside_mfa_not_enabled(
    baseline: CompiledPolicy,
) -> None:
    results = evaluate_all(baseline, build_facts({"mfa.enabled": False}), previous=build_facts())
    assert results["MFA.TURNEDOFF.1v1"].status is FAIL
    assert results["MFA.ENABLED.1v1"].status is FAIL
    assert baseline.rules["MFA.TURNEDOFF.1v1"].severity == "critical"


def test_phishing_resistant_requirement_ignores_a_weaker_method_beside_the_key(
    baseline: CompiledPolicy,
) -> None:
    facts = build_facts(
        {
            "account.tier": "ministry_main",
            "mfa.methods": ["passkey", "microsoftAuthenticatorPush"],
            "mfa.strengths": ["phishing_resistant", "app_push"],
        }
    )
    assert evaluate_all(baseline, facts)["MFA.PHISHRES.1v1"].status is PASS
