"""The baseline's rules on the account itself and its connected apps."""

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
    app,
    check_case,
    days_ago,
)

IDLE = {"account.last_activity_at": days_ago(200)}

CASES = [
    # ACCOUNT.DORMANT.1v1
    Case(
        "ACCOUNT.DORMANT.1v1",
        PASS,
        "the account posted three days ago",
        deciding="account.last_activity_at",
    ),
    Case(
        "ACCOUNT.DORMANT.1v1",
        PASS,
        "the last post was exactly 180 days ago",
        {"account.last_activity_at": days_ago(180)},
    ),
    Case(
        "ACCOUNT.DORMANT.1v1",
        FAIL,
        "an active account has been idle for 200 days",
        IDLE,
        deciding="account.last_activity_at",
    ),
    Case(
        "ACCOUNT.DORMANT.1v1",
        FAIL,
        "an idle account is only marked dormant (keeping it needs a waiver)",
        IDLE | {"account.status": "dormant"},
    ),
    Case(
        "ACCOUNT.DORMANT.1v1",
        MANUAL,
        "no activity was ever recorded",
        {"account.last_activity_at": None},
    ),
    Case(
        "ACCOUNT.DORMANT.1v1",
        NOT_APPLICABLE,
        "the account is closed",
        IDLE | {"account.status": "closed"},
    ),
    # ACCOUNT.OWNER.1v1
    Case("ACCOUNT.OWNER.1v1", PASS, "the owner still works here", deciding="owner.status"),
    Case(
        "ACCOUNT.OWNER.1v1",
        FAIL,
        "nobody owns the account",
        {"account.owner": None},
        never=(Group.OWNER,),
        deciding="account.owner",
    ),
    Case(
        "ACCOUNT.OWNER.1v1",
        FAIL,
        "the owner has left",
        {"owner.status": "left"},
        deciding="owner.status",
    ),
    Case(
        "ACCOUNT.OWNER.1v1",
        MANUAL,
        "the owner's directory entry was never read",
        never=(Group.OWNER,),
    ),
    Case(
        "ACCOUNT.OWNER.1v1",
        ERROR,
        "the directory could not be read",
        failed={Group.OWNER: GRAPH_DENIED},
    ),
    # APPS.ALLOWLIST.1v1
    Case("APPS.ALLOWLIST.1v1", PASS, "the only app is allow-listed", deciding="apps"),
    Case("APPS.ALLOWLIST.1v1", PASS, "no app is connected", {"apps": []}),
    Case(
        "APPS.ALLOWLIST.1v1",
        FAIL,
        "an unknown scheduler holds a grant",
        {"apps": [app(), app(label="PostNow", name="PostNow", allow_listed=False)]},
        deciding="apps",
    ),
    Case("APPS.ALLOWLIST.1v1", MANUAL, "connected apps were never recorded", never=(Group.APPS,)),
    Case(
        "APPS.ALLOWLIST.1v1",
        ERROR,
        "the grants could not be read",
        failed={Group.APPS: GRAPH_DENIED},
    ),
    # APPS.REVIEWED.1v1
    Case("APPS.REVIEWED.1v1", PASS, "the app was reviewed 40 days ago", deciding="apps"),
    Case(
        "APPS.REVIEWED.1v1",
        PASS,
        "the app was reviewed exactly 180 days ago",
        {"apps": [app(last_reviewed_at=days_ago(180))]},
    ),
    Case(
        "APPS.REVIEWED.1v1",
        FAIL,
        "the app was last reviewed 400 days ago",
        {"apps": [app(last_reviewed_at=days_ago(400))]},
        deciding="apps",
    ),
    Case(
        "APPS.REVIEWED.1v1",
        FAIL,
        "the app was never reviewed",
        {"apps": [app(last_reviewed_at=None)]},
    ),
    Case("APPS.REVIEWED.1v1", MANUAL, "connected apps were never recorded", never=(Group.APPS,)),
    # ACCOUNT.BADGE.1v1
    Case(
        "ACCOUNT.BADGE.1v1",
        PASS,
        "the account carries a government label",
        deciding="account.verified_badge",
    ),
    Case(
        "ACCOUNT.BADGE.1v1",
        FAIL,
        "the account has no label",
        {"account.verified_badge": False},
        deciding="account.verified_badge",
    ),
    Case(
        "ACCOUNT.BADGE.1v1",
        MANUAL,
        "nobody recorded whether it has a label",
        {"account.verified_badge": None},
    ),
    Case(
        "ACCOUNT.BADGE.1v1",
        NOT_APPLICABLE,
        "a mailbox has no public label",
        {"account.platform": "microsoft365", "account.verified_badge": None},
    ),
    Case(
        "ACCOUNT.BADGE.1v1",
        NOT_APPLICABLE,
        "a staff account is not public-facing",
        {"account.tier": "staff", "account.verified_badge": False},
    ),
    # ACCOUNT.REGISTRY.1v1
    Case(
        "ACCOUNT.REGISTRY.1v1",
        PASS,
        "the account is in the public registry",
        deciding="account.in_public_registry",
    ),
    Case(
        "ACCOUNT.REGISTRY.1v1",
        FAIL,
        "the account is missing from the registry",
        {"account.in_public_registry": False},
        deciding="account.in_public_registry",
    ),
    Case(
        "ACCOUNT.REGISTRY.1v1",
        MANUAL,
        "the registry listing is unknown",
        {"account.in_public_registry": None},
    ),
    Case(
        "ACCOUNT.REGISTRY.1v1",
        NOT_APPLICABLE,
        "a Zoom account is not listed publicly",
        {"account.platform": "zoom", "account.in_public_registry": False},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_account_rule_verdict(baseline: CompiledPolicy, case: Case) -> None:
    check_case(baseline, case)
