"""The baseline's recovery rules: ministry e-mail, institutional locked phone, protected mailbox."""

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
    days_ago,
    evaluate_all,
)

NO_PHONE = {
    "recovery.phone_set": False,
    "recovery.phone_owner": "unknown",
    "recovery.carrier_lock": None,
}
NO_EMAIL = {"recovery.email_domain": None, "recovery.email_inventoried": False}
WEBMAIL = {"recovery.email_domain": "gmail.com", "recovery.email_inventoried": False}

CASES = [
    # RECOVERY.DOMAIN.1v1
    Case(
        "RECOVERY.DOMAIN.1v1",
        PASS,
        "the recovery e-mail is on mfa.example",
        deciding="recovery.email_domain",
    ),
    Case(
        "RECOVERY.DOMAIN.1v1",
        FAIL,
        "the recovery e-mail is on public webmail",
        WEBMAIL,
        mailbox=None,
        deciding="recovery.email_domain",
    ),
    Case(
        "RECOVERY.DOMAIN.1v1",
        FAIL,
        "the domain only looks like the ministry's",
        {"recovery.email_domain": "mfa.example.com"},
        mailbox=None,
    ),
    Case("RECOVERY.DOMAIN.1v1", PASS, "the account has no recovery e-mail", NO_EMAIL, mailbox=None),
    Case("RECOVERY.DOMAIN.1v1", MANUAL, "recovery was never recorded", never=(Group.RECOVERY,)),
    Case(
        "RECOVERY.DOMAIN.1v1",
        ERROR,
        "the connector could not read recovery",
        failed={Group.RECOVERY: GRAPH_DENIED},
    ),
    # RECOVERY.PHONE.OWNER.1v1
    Case(
        "RECOVERY.PHONE.OWNER.1v1",
        PASS,
        "the line is the ministry's",
        deciding="recovery.phone_owner",
    ),
    Case(
        "RECOVERY.PHONE.OWNER.1v1",
        PASS,
        "there is no recovery phone",
        NO_PHONE,
        deciding="recovery.phone_set",
    ),
    Case(
        "RECOVERY.PHONE.OWNER.1v1",
        FAIL,
        "the line is the ambassador's personal number",
        {"recovery.phone_owner": "personal"},
        deciding="recovery.phone_owner",
    ),
    Case(
        "RECOVERY.PHONE.OWNER.1v1",
        FAIL,
        "nobody knows whose line it is",
        {"recovery.phone_owner": "unknown"},
    ),
    Case(
        "RECOVERY.PHONE.OWNER.1v1", MANUAL, "recovery was never recorded", never=(Group.RECOVERY,)
    ),
    # RECOVERY.PHONE.LOCK.1v1
    Case(
        "RECOVERY.PHONE.LOCK.1v1",
        PASS,
        "the line has a carrier lock",
        deciding="recovery.carrier_lock",
    ),
    Case("RECOVERY.PHONE.LOCK.1v1", PASS, "there is no recovery phone", NO_PHONE),
    Case(
        "RECOVERY.PHONE.LOCK.1v1",
        FAIL,
        "the line has no carrier lock",
        {"recovery.carrier_lock": False},
        deciding="recovery.carrier_lock",
    ),
    Case(
        "RECOVERY.PHONE.LOCK.1v1",
        MANUAL,
        "the lock was not attested",
        {"recovery.carrier_lock": None},
    ),
    Case(
        "RECOVERY.PHONE.LOCK.1v1",
        ERROR,
        "the recovery facts could not be read",
        failed={Group.RECOVERY: GRAPH_DENIED},
    ),
    # RECOVERY.MAILBOX.1v1 (check recovery_mailbox_protected)
    Case("RECOVERY.MAILBOX.1v1", PASS, "the recovery mailbox is inventoried and on FIDO2"),
    Case(
        "RECOVERY.MAILBOX.1v1",
        FAIL,
        "the recovery mailbox relies on push approval",
        mailbox={"mfa.strengths": ["app_push"], "mfa.strongest": "app_push"},
    ),
    Case(
        "RECOVERY.MAILBOX.1v1",
        FAIL,
        "the recovery e-mail is not an inventoried mailbox",
        WEBMAIL,
        mailbox=None,
    ),
    Case(
        "RECOVERY.MAILBOX.1v1",
        NOT_APPLICABLE,
        "the account has no recovery e-mail",
        NO_EMAIL,
        mailbox=None,
    ),
    Case("RECOVERY.MAILBOX.1v1", MANUAL, "recovery was never recorded", never=(Group.RECOVERY,)),
    Case(
        "RECOVERY.MAILBOX.1v1",
        MANUAL,
        "the mailbox's MFA methods were never recorded",
        mailbox_never=(Group.MFA_METHODS,),
    ),
    # RECOVERY.VERIFIED.1v1
    Case(
        "RECOVERY.VERIFIED.1v1", PASS, "verified 30 days ago", deciding="recovery.last_verified_at"
    ),
    Case(
        "RECOVERY.VERIFIED.1v1",
        PASS,
        "verified exactly 180 days ago",
        {"recovery.last_verified_at": days_ago(180)},
    ),
    Case(
        "RECOVERY.VERIFIED.1v1",
        FAIL,
        "verified 181 days ago",
        {"recovery.last_verified_at": days_ago(181)},
        deciding="recovery.last_verified_at",
    ),
    Case("RECOVERY.VERIFIED.1v1", FAIL, "never verified", {"recovery.last_verified_at": None}),
    Case("RECOVERY.VERIFIED.1v1", MANUAL, "recovery was never recorded", never=(Group.RECOVERY,)),
    # RECOVERY.CODES.1v1
    Case(
        "RECOVERY.CODES.1v1",
        PASS,
        "backup codes are in escrow",
        deciding="recovery.backup_codes_escrowed",
    ),
    Case(
        "RECOVERY.CODES.1v1",
        FAIL,
        "backup codes are not in escrow",
        {"recovery.backup_codes_escrowed": False},
        deciding="recovery.backup_codes_escrowed",
    ),
    Case(
        "RECOVERY.CODES.1v1",
        MANUAL,
        "escrow was not attested",
        {"recovery.backup_codes_escrowed": None},
    ),
    Case(
        "RECOVERY.CODES.1v1",
        NOT_APPLICABLE,
        "Microsoft 365 issues no backup codes",
        {"account.platform": "microsoft365", "recovery.backup_codes_escrowed": False},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_recovery_rule_verdict(baseline: CompiledPolicy, case: Case) -> None:
    check_case(baseline, case)


def test_secgov_recovery_path_fails_every_phone_rule(baseline: CompiledPolicy) -> None:
    """The @SECGov pattern: a personal number with no carrier lock behind the account."""
    facts = build_facts({"recovery.phone_owner": "personal", "recovery.carrier_lock": False})
    results = evaluate_all(baseline, facts)
    assert results["RECOVERY.PHONE.OWNER.1v1"].status is FAIL
    assert results["RECOVERY.PHONE.LOCK.1v1"].status is FAIL
    assert results["RECOVERY.DOMAIN.1v1"].status is PASS
