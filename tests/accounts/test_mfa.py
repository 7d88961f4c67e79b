"""The method→strength table, the best-method summary, masks and handle normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secops.accounts.facts import mfa_summary, oldest_evidence
from secops.accounts.masking import mask_email, mask_phone
from secops.accounts.mfa import KNOWN_METHODS, best_strength, strength_of
from secops.accounts.models import FactStatus, MfaStrength, Platform, normalise_handle

GRAPH_EXAMPLES = {
    "fido2": MfaStrength.PHISHING_RESISTANT,
    "fido2SecurityKey": MfaStrength.PHISHING_RESISTANT,
    "windowsHelloForBusiness": MfaStrength.PHISHING_RESISTANT,
    "passKeyDeviceBound": MfaStrength.PHISHING_RESISTANT,
    "passKeySynced": MfaStrength.PHISHING_RESISTANT,
    "macOsSecureEnclaveKey": MfaStrength.PHISHING_RESISTANT,
    "microsoftAuthenticatorPush": MfaStrength.APP_PUSH,
    "microsoftAuthenticatorPasswordless": MfaStrength.APP_PUSH,
    "softwareOneTimePasscode": MfaStrength.TOTP,
    "hardwareOneTimePasscode": MfaStrength.TOTP,
    "mobilePhone": MfaStrength.PHONE_EMAIL,
    "alternateMobilePhone": MfaStrength.PHONE_EMAIL,
    "officePhone": MfaStrength.PHONE_EMAIL,
    "email": MfaStrength.PHONE_EMAIL,
    "sms": MfaStrength.PHONE_EMAIL,
    "temporaryAccessPass": MfaStrength.NONE,
    "securityQuestion": MfaStrength.NONE,
}
STRONG = {MfaStrength.PHISHING_RESISTANT, MfaStrength.APP_PUSH, MfaStrength.TOTP}


@pytest.mark.parametrize(("method", "strength"), GRAPH_EXAMPLES.items())
def test_graph_methods_registered_map_to_their_tier(method: str, strength: MfaStrength) -> None:
    assert strength_of(method) == strength


@pytest.mark.parametrize("spelling", ["FIDO2", "Security key", "security-key", " passkey "])
def test_spelling_variants_of_a_known_method_are_recognised(spelling: str) -> None:
    assert strength_of(spelling) == MfaStrength.PHISHING_RESISTANT


_KNOWN_KEYS = {"".join(c for c in m.casefold() if c not in " -_") for m in KNOWN_METHODS}


@given(st.text(max_size=40))
def test_any_unknown_string_maps_to_unknown_never_to_a_strong_tier(method: str) -> None:
    key = "".join(c for c in method.casefold() if c not in " -_")
    strength = strength_of(method)

    if key not in _KNOWN_KEYS:
        assert strength == MfaStrength.UNKNOWN
    assert strength in set(MfaStrength)


@given(st.lists(st.sampled_from(list(MfaStrength)), max_size=6))
def test_best_strength_is_the_highest_rank_and_never_better_than_its_inputs(
    strengths: list[MfaStrength],
) -> None:
    best = best_strength(strengths)

    if not strengths:
        assert best == MfaStrength.NONE
    else:
        assert best in strengths
        assert all(best.rank >= s.rank for s in strengths)
    if best in STRONG:
        assert best in strengths


def test_ranks_follow_the_agreed_order() -> None:
    order = [
        MfaStrength.PHISHING_RESISTANT,
        MfaStrength.APP_PUSH,
        MfaStrength.TOTP,
        MfaStrength.PHONE_EMAIL,
        MfaStrength.UNKNOWN,
        MfaStrength.NONE,
    ]

    assert sorted(MfaStrength, key=lambda s: -s.rank) == order


NOW = None


def test_mfa_summary_distinguishes_no_evidence_none_error_and_unknown() -> None:
    ok, err = FactStatus.OK, FactStatus.ERROR

    assert mfa_summary({}, []) is None
    assert mfa_summary({"mfa": (ok, NOW, False)}, []) == MfaStrength.NONE
    assert mfa_summary({"mfa": (ok, NOW, True)}, []) == MfaStrength.UNKNOWN
    assert mfa_summary({"mfa_methods": (ok, NOW, None)}, []) == MfaStrength.NONE
    assert mfa_summary({"mfa_methods": (err, NOW, None)}, [MfaStrength.PHISHING_RESISTANT]) == (
        MfaStrength.UNKNOWN
    )
    assert mfa_summary({"mfa": (err, NOW, True)}, [MfaStrength.TOTP]) == MfaStrength.UNKNOWN


def test_oldest_evidence_is_none_when_any_group_lacks_a_time() -> None:
    from datetime import UTC, datetime

    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    ok = FactStatus.OK

    assert oldest_evidence({}) is None
    assert oldest_evidence({"mfa": (ok, late, None), "apps": (ok, early, None)}) == early
    assert oldest_evidence({"mfa": (ok, late, None), "apps": (ok, None, None)}) is None


@pytest.mark.parametrize(
    ("email", "masked"),
    [("alice@gmail.com", "a•••@gmail.com"), ("a@X.org", "a•••@x.org"), ("@x.org", "•••@x.org")],
)
def test_email_masks_keep_the_first_letter_and_the_domain(email: str, masked: str) -> None:
    assert mask_email(email) == masked


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_phone_masks_have_one_shape_and_reveal_four_digits_at_most(phone: str) -> None:
    masked = mask_phone(phone)

    assert masked == f"+{phone[1:3]} •• •• •• {phone[-2:]}"
    assert sum(c.isdigit() for c in masked) == 4


@pytest.mark.parametrize(
    ("platform", "raw", "stored"),
    [
        (Platform.X, " @EmbParis ", "embparis"),
        (Platform.TELEGRAM, "@@Twice", "@twice"),
        (Platform.GOOGLE_WORKSPACE, " Press@Ministry.EX ", "press@ministry.ex"),
        (Platform.OTHER, "  CaseKept ", "CaseKept"),
    ],
)
def test_handles_are_normalised_per_platform(platform: Platform, raw: str, stored: str) -> None:
    assert normalise_handle(platform, raw) == stored
