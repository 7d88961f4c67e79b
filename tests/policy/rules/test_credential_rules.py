"""The baseline's password rules: length, breach checks, the vault, rotation, named access."""

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
    admin,
    check_case,
    days_ago,
    holder,
)

FACEBOOK_PAGE = {"account.platform": "facebook", "account.tier": "mission"}
NO_HOLDERS = {"credential.holders": []}

CASES = [
    # CRED.LENGTH.1v1: 8 with MFA, 15 without.
    Case("CRED.LENGTH.1v1", PASS, "a 20-character policy", deciding="credential.min_length"),
    Case("CRED.LENGTH.1v1", PASS, "8 characters with MFA on", {"credential.min_length": 8}),
    Case(
        "CRED.LENGTH.1v1",
        FAIL,
        "7 characters even with MFA on",
        {"credential.min_length": 7},
        deciding="credential.min_length",
    ),
    Case(
        "CRED.LENGTH.1v1",
        PASS,
        "15 characters with MFA off",
        {"credential.min_length": 15, "mfa.enabled": False},
    ),
    Case(
        "CRED.LENGTH.1v1",
        FAIL,
        "14 characters with MFA off",
        {"credential.min_length": 14, "mfa.enabled": False},
        deciding="credential.min_length",
    ),
    Case(
        "CRED.LENGTH.1v1",
        MANUAL,
        "the length policy was not recorded",
        {"credential.min_length": None},
    ),
    Case(
        "CRED.LENGTH.1v1",
        MANUAL,
        "a 10-character policy and MFA never attested",
        {"credential.min_length": 10},
        never=(Group.MFA,),
    ),
    Case(
        "CRED.LENGTH.1v1",
        PASS,
        "a 16-character policy while MFA is unknown",
        {"credential.min_length": 16},
        never=(Group.MFA,),
    ),
    Case(
        "CRED.LENGTH.1v1",
        MANUAL,
        "the password facts were never recorded",
        never=(Group.CREDENTIAL,),
    ),
    # CRED.BREACH.1v1
    Case("CRED.BREACH.1v1", PASS, "checked 10 days ago", deciding="credential.breach_checked_at"),
    Case(
        "CRED.BREACH.1v1",
        PASS,
        "checked exactly 90 days ago",
        {"credential.breach_checked_at": days_ago(90)},
    ),
    Case(
        "CRED.BREACH.1v1",
        FAIL,
        "checked 91 days ago",
        {"credential.breach_checked_at": days_ago(91)},
        deciding="credential.breach_checked_at",
    ),
    Case(
        "CRED.BREACH.1v1",
        FAIL,
        "never checked",
        {"credential.breach_checked_at": None},
        deciding="credential.breach_checked_at",
    ),
    Case(
        "CRED.BREACH.1v1",
        MANUAL,
        "the password facts were never recorded",
        never=(Group.CREDENTIAL,),
    ),
    # CRED.VAULT.1v1
    Case("CRED.VAULT.1v1", PASS, "the password is in the vault", deciding="credential.storage"),
    Case(
        "CRED.VAULT.1v1",
        FAIL,
        "the password is kept in a document",
        {"credential.storage": "document"},
        deciding="credential.storage",
    ),
    Case(
        "CRED.VAULT.1v1",
        FAIL,
        "nobody knows where the password is kept",
        {"credential.storage": "unknown"},
    ),
    Case(
        "CRED.VAULT.1v1",
        MANUAL,
        "the password facts were never recorded",
        never=(Group.CREDENTIAL,),
    ),
    Case(
        "CRED.VAULT.1v1",
        ERROR,
        "the source of the password facts failed",
        failed={Group.CREDENTIAL: GRAPH_DENIED},
    ),
    # CRED.ROTATED.1v1 (check credential_rotated_after_holder_left)
    Case("CRED.ROTATED.1v1", PASS, "every holder still works here"),
    Case(
        "CRED.ROTATED.1v1",
        PASS,
        "the password was changed after the holder left",
        {
            "credential.holders": [holder(), holder(person_status="left", left_at=days_ago(30))],
            "credential.last_rotated_at": days_ago(25),
        },
    ),
    Case(
        "CRED.ROTATED.1v1",
        FAIL,
        "a holder left after the last change",
        {
            "credential.holders": [holder(), holder(person_status="left", left_at=days_ago(10))],
            "credential.last_rotated_at": days_ago(20),
        },
    ),
    Case(
        "CRED.ROTATED.1v1",
        MANUAL,
        "the password facts were never recorded",
        never=(Group.CREDENTIAL,),
    ),
    # ACCESS.NAMED.1v1: on platforms with roles, nobody holds a shared password.
    Case(
        "ACCESS.NAMED.1v1",
        PASS,
        "managers have roles and nobody holds a password",
        FACEBOOK_PAGE | NO_HOLDERS,
        deciding="credential.holders",
    ),
    Case(
        "ACCESS.NAMED.1v1",
        FAIL,
        "two people share the page's password",
        FACEBOOK_PAGE,
        deciding="credential.holders",
    ),
    Case(
        "ACCESS.NAMED.1v1",
        FAIL,
        "the only administrator is an outside identity",
        FACEBOOK_PAGE | NO_HOLDERS | {"admins": [admin(named=False, person_status=None)]},
        deciding="admins",
    ),
    Case(
        "ACCESS.NAMED.1v1",
        MANUAL,
        "the holders were never recorded",
        FACEBOOK_PAGE,
        never=(Group.CREDENTIAL,),
    ),
    Case(
        "ACCESS.NAMED.1v1",
        ERROR,
        "the admin list could not be read",
        FACEBOOK_PAGE | NO_HOLDERS,
        failed={Group.ADMINS: GRAPH_DENIED},
    ),
    Case("ACCESS.NAMED.1v1", NOT_APPLICABLE, "X has no named roles"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_credential_rule_verdict(baseline: CompiledPolicy, case: Case) -> None:
    check_case(baseline, case)
