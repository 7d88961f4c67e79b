"""The baseline's administrator rules: two named staff, few global admins, no leavers."""

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
    build_facts,
    check_case,
    days_ago,
    evaluate_all,
)

M365 = {"account.platform": "microsoft365", "account.tier": "service"}
LEFT = admin(label="Mira Fenech", person_status="left", left_at=days_ago(40))
PR_AGENCY = admin(
    label="lagos.pr.agency@gmail.com",
    named=False,
    person_status=None,
    affiliation="external",
    email_domain="gmail.com",
)


def global_admins(count: int) -> list[dict[str, object]]:
    """``count`` named Global Administrators."""
    return [admin(label=f"Admin {n}", platform_role="Global Administrator") for n in range(count)]


CASES = [
    # ADMINS.NAMED.1v1
    Case("ADMINS.NAMED.1v1", PASS, "two named ministry admins", deciding="admins"),
    Case("ADMINS.NAMED.1v1", FAIL, "a single admin", {"admins": [admin()]}, deciding="admins"),
    Case("ADMINS.NAMED.1v1", FAIL, "the second admin has left", {"admins": [admin(), LEFT]}),
    Case(
        "ADMINS.NAMED.1v1",
        FAIL,
        "the second admin is a PR agency",
        {"admins": [admin(), PR_AGENCY]},
    ),
    Case(
        "ADMINS.NAMED.1v1",
        FAIL,
        "the second admin works for another agency",
        {"admins": [admin(), admin(affiliation="other_agency")]},
    ),
    Case("ADMINS.NAMED.1v1", MANUAL, "the admins were never recorded", never=(Group.ADMINS,)),
    Case(
        "ADMINS.NAMED.1v1",
        ERROR,
        "the role assignments could not be read",
        failed={Group.ADMINS: GRAPH_DENIED},
    ),
    Case(
        "ADMINS.NAMED.1v1",
        MANUAL,
        "a named admin's directory status is missing",
        {"admins": [admin(), admin(person_status=None)]},
    ),
    # ADMINS.GLOBAL.1v1
    Case(
        "ADMINS.GLOBAL.1v1",
        PASS,
        "eight global administrators",
        M365 | {"admins": global_admins(8)},
        deciding="admins",
    ),
    Case(
        "ADMINS.GLOBAL.1v1",
        FAIL,
        "nine global administrators",
        M365 | {"admins": global_admins(9)},
        deciding="admins",
    ),
    Case(
        "ADMINS.GLOBAL.1v1",
        FAIL,
        "nine Google super admins",
        {
            "account.platform": "google_workspace",
            "admins": [admin(label=f"S{n}", platform_role="Super Admin") for n in range(9)],
        },
    ),
    Case(
        "ADMINS.GLOBAL.1v1",
        PASS,
        "many mailbox administrators but two global ones",
        M365
        | {
            "admins": global_admins(2)
            + [admin(platform_role="Mailbox Administrator") for _ in range(9)]
        },
    ),
    Case(
        "ADMINS.GLOBAL.1v1",
        MANUAL,
        "an admin's role was not recorded",
        M365 | {"admins": [admin(platform_role=None)]},
    ),
    Case(
        "ADMINS.GLOBAL.1v1",
        ERROR,
        "Graph refused the role assignments",
        M365,
        failed={Group.ADMINS: GRAPH_DENIED},
    ),
    Case("ADMINS.GLOBAL.1v1", NOT_APPLICABLE, "an X account has no tenant roles"),
    # ADMINS.LEFT.1v1
    Case("ADMINS.LEFT.1v1", PASS, "every admin still works here", deciding="admins"),
    Case(
        "ADMINS.LEFT.1v1",
        PASS,
        "an outside identity is not a leaver",
        {"admins": [admin(), PR_AGENCY]},
    ),
    Case(
        "ADMINS.LEFT.1v1",
        FAIL,
        "an admin has left the ministry",
        {"admins": [admin(), LEFT]},
        deciding="admins",
    ),
    Case("ADMINS.LEFT.1v1", MANUAL, "the admins were never recorded", never=(Group.ADMINS,)),
    Case(
        "ADMINS.LEFT.1v1",
        MANUAL,
        "a named admin's directory status is missing",
        {"admins": [admin(person_status=None)]},
    ),
    # ADMINS.INACTIVE.1v1
    Case("ADMINS.INACTIVE.1v1", PASS, "every admin signed in this week", M365, deciding="admins"),
    Case(
        "ADMINS.INACTIVE.1v1",
        PASS,
        "an admin signed in exactly 90 days ago",
        M365 | {"admins": [admin(last_sign_in_at=days_ago(90))]},
    ),
    Case(
        "ADMINS.INACTIVE.1v1",
        FAIL,
        "an admin last signed in 91 days ago",
        M365 | {"admins": [admin(), admin(last_sign_in_at=days_ago(91))]},
        deciding="admins",
    ),
    Case(
        "ADMINS.INACTIVE.1v1",
        MANUAL,
        "an admin's last sign-in is unknown",
        M365 | {"admins": [admin(last_sign_in_at=None)]},
    ),
    Case(
        "ADMINS.INACTIVE.1v1",
        ERROR,
        "Graph refused the sign-in activity",
        M365,
        failed={Group.ADMINS: GRAPH_DENIED},
    ),
    Case("ADMINS.INACTIVE.1v1", NOT_APPLICABLE, "X reports no admin sign-ins"),
    # ADMINS.EXTERNAL.1v1
    Case(
        "ADMINS.EXTERNAL.1v1",
        PASS,
        "every admin is ministry staff on mfa.example",
        deciding="admins",
    ),
    Case(
        "ADMINS.EXTERNAL.1v1",
        PASS,
        "a ministry admin's sign-in domain is not known",
        {"admins": [admin(email_domain=None)]},
    ),
    Case(
        "ADMINS.EXTERNAL.1v1",
        FAIL,
        "a PR agency on gmail.com administers the page",
        {"admins": [admin(), PR_AGENCY]},
        deciding="admins",
    ),
    Case(
        "ADMINS.EXTERNAL.1v1",
        FAIL,
        "a ministry admin signs in with public webmail",
        {"admins": [admin(email_domain="outlook.com")]},
    ),
    Case(
        "ADMINS.EXTERNAL.1v1",
        FAIL,
        "an admin works for another agency",
        {"admins": [admin(affiliation="other_agency", email_domain="mfa.example")]},
    ),
    Case("ADMINS.EXTERNAL.1v1", MANUAL, "the admins were never recorded", never=(Group.ADMINS,)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_admin_rule_verdict(baseline: CompiledPolicy, case: Case) -> None:
    check_case(baseline, case)


def test_leaver_and_outsider_fail_their_own_rules_only(baseline: CompiledPolicy) -> None:
    results = evaluate_all(baseline, build_facts({"admins": [admin(), admin(), LEFT, PR_AGENCY]}))
    assert results["ADMINS.LEFT.1v1"].status is FAIL
    assert results["ADMINS.EXTERNAL.1v1"].status is FAIL
    assert results["ADMINS.NAMED.1v1"].status is PASS  # two active named staff remain
