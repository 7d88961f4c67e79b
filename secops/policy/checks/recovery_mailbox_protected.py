"""The recovery mailbox is itself in the inventory and has a phishing-resistant factor (rule 17)."""

from __future__ import annotations

from secops.policy.checks.base import (
    FAIL,
    MANUAL,
    NOT_APPLICABLE,
    PASS,
    CheckContext,
    CheckMetadata,
    note,
    unusable,
)
from secops.policy.conditions import Decision, wording
from secops.policy.facts import AccountFacts
from secops.policy.fields import Group

METADATA = CheckMetadata(
    id="recovery_mailbox_protected",
    summary=(
        "The mailbox that receives the account's recovery mail is inventoried and its strongest "
        "MFA method is phishing-resistant."
    ),
    fields=("recovery.email_domain", "recovery.email_inventoried"),
)
FIELDS = METADATA.fields
_STRONG = "phishing_resistant"


def recovery_mailbox_protected(facts: AccountFacts, ctx: CheckContext) -> Decision:
    """Pass when the recovery mailbox is inventoried and phishing-resistant; fail otherwise."""
    unknown = unusable(facts, Group.RECOVERY, FIELDS)
    if unknown is not None:
        return unknown
    when = note(facts, Group.RECOVERY, ctx.now)
    domain = facts.values.get("recovery.email_domain")
    if domain is None:
        return Decision(NOT_APPLICABLE, f"No recovery e-mail is registered{when}", FIELDS)
    mailbox_id = facts.recovery_email_account_id
    if mailbox_id is None:
        return Decision(
            FAIL, f"The recovery mailbox (@{domain}) is not in the inventory{when}", FIELDS
        )
    mailbox = ctx.lookup(mailbox_id)
    if mailbox is None:
        return Decision(
            MANUAL,
            "The recovery mailbox is outside this evaluation: evaluate its mission too",
            FIELDS,
            {"recovery_mailbox": {"account_id": str(mailbox_id)}},
        )
    handle = mailbox.values.get("account.handle")
    details = {
        "recovery_mailbox": {
            "account_id": str(mailbox_id),
            "handle": handle,
            "mfa.strongest": mailbox.values.get("mfa.strongest"),
        }
    }
    prefix = f"Recovery mailbox {handle}: "
    unknown = unusable(mailbox, Group.MFA_METHODS, FIELDS, prefix)
    if unknown is not None:
        return unknown._replace(details=details)
    strongest = mailbox.values.get("mfa.strongest")
    their = note(mailbox, Group.MFA_METHODS, ctx.now)
    if strongest == _STRONG:
        text = f"Recovery mailbox {handle} has a phishing-resistant MFA method{their}"
        return Decision(PASS, text, FIELDS, details)
    text = f"Recovery mailbox {handle}'s strongest MFA method is {wording.show(strongest)}{their}"
    return Decision(FAIL, text, FIELDS, details)
