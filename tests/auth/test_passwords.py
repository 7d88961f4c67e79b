"""Passwords: length, common and context lists, exact verification, argon2id and rehashing."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from secops.auth import passwords, signin
from secops.auth.models import User
from secops.auth.outcomes import Refused
from secops.core.clock import FrozenClock
from secops.core.config import Environment, Settings
from secops.core.db import SessionFactory
from secops.core.errors import ServiceUnavailable
from tests.auth.conftest import API
from tests.factories.auth import TestUser, login_headers, make_user
from tests.factories.missions import make_mission

SETUP = f"{API}/auth/redeem"


def _invite(client: TestClient, headers: dict[str, str], username: str) -> str:
    body = {"username": username, "display_name": username.title()}
    response = client.post(f"{API}/users", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["invitation"]["token"])


def _choose(client: TestClient, token: str, password: str) -> tuple[int, dict[str, object]]:
    response = client.post(SETUP, json={"token": token, "password": password})
    return response.status_code, response.json()


@pytest.fixture
def invitation(client: TestClient, admin_headers: dict[str, str]) -> str:
    return _invite(client, admin_headers, "newcomer")


def test_seven_characters_are_refused_naming_the_field(client: TestClient, invitation: str) -> None:
    status, body = _choose(client, invitation, "Xq7#pLm")
    assert status == 422
    assert body["errors"] == [
        {
            "loc": ["body", "password"],
            "msg": "must have at least 8 characters.",
            "type": "password_policy",
        }
    ]
    assert "Xq7#pLm" not in str(body)


def test_a_64_character_unicode_password_is_accepted(client: TestClient, invitation: str) -> None:
    password = "Ünïcödé-пароль-密码-🔐" * 3 + "0123456789ab"
    password = password[:64]
    assert len(password) == 64
    status, body = _choose(client, invitation, password)
    assert status == 200, body
    assert body["enrolment_required"] is True


def test_128_characters_accepted_129_refused_before_hashing(
    client: TestClient, invitation: str
) -> None:
    with mock.patch.object(passwords, "hash_password", wraps=passwords.hash_password) as spy:
        status, _ = _choose(client, invitation, "k" * 60 + "Q" * 69)
        assert status == 422
        assert spy.call_count == 0
    status, _ = _choose(client, invitation, "kQ9" * 42 + "xy")
    assert status == 200


def test_a_10kb_password_is_refused_before_hashing_at_login(
    client: TestClient, alice: TestUser
) -> None:
    with mock.patch("argon2.PasswordHasher.verify") as verify:
        body = {"username": alice.username, "password": "p" * 10_240, "totp_code": "123456"}
        response = client.post(f"{API}/auth/login", json=body)
    assert response.status_code == 422
    assert verify.call_count == 0
    assert "pppppppp" not in response.text


@pytest.mark.parametrize("common", ["password1", "qwerty123", "iloveyou", "Sunshine", "PASSWORD"])
def test_common_passwords_are_refused(client: TestClient, invitation: str, common: str) -> None:
    candidate = common if len(common) >= 8 else common + common
    status, body = _choose(client, invitation, candidate)
    assert status == 422
    assert "commonly used" in str(body["detail"])


def test_common_list_is_shipped_and_large() -> None:
    listed = passwords.common_passwords()
    assert len(listed) > 10_000
    assert {"password", "12345678", "baseball", "trustno1"} <= listed


def test_context_words_of_missions_and_ministry_are_refused(
    client: TestClient, sessions: SessionFactory, invitation: str
) -> None:
    with sessions.begin() as session:
        make_mission(session, "FR-PAR", name="Embassy in Paris", city="Paris")
    for attempt in ("embassy-paris-2026", "my-Ministry-pass", "frpar-2026-zz", "xyz Foreign 99"):
        status, body = _choose(client, invitation, attempt)
        assert status == 422, attempt
        assert "mission" in str(body["detail"])


def test_username_is_a_context_word(client: TestClient, invitation: str) -> None:
    status, _ = _choose(client, invitation, "NEWCOMER-rules-42")
    assert status == 422


@settings(max_examples=60, deadline=None)
@given(
    st.text(min_size=8, max_size=40).filter(
        lambda p: p.casefold() not in passwords.common_passwords()
    )
)
def test_rules_accept_any_long_enough_password_free_of_context(password: str) -> None:
    context = ["Qqqq-Zzzz"]
    if "qqqq" in password.casefold() or "zzzz" in password.casefold():
        return
    passwords.check_new_password(password, context=context)


def test_verification_is_exact(settings: Settings) -> None:
    base = "a" * 72
    hashed = passwords.hash_password(settings, base + "-tail-one")
    assert passwords.verify_password(settings, hashed, base + "-tail-one")
    assert not passwords.verify_password(settings, hashed, base + "-tail-two")  # past byte 72
    assert not passwords.verify_password(settings, hashed, (base + "-tail-one").upper())
    assert not passwords.verify_password(settings, hashed, base + "-tail-one ")


def test_case_flipped_password_fails_at_login(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    body = {
        "username": alice.username,
        "password": alice.password.swapcase(),
        "totp_code": alice.code(clock),
    }
    assert client.post(f"{API}/auth/login", json=body).status_code == 401


def test_production_parameters_give_argon2id_rfc9106_low_memory(tmp_path: Path) -> None:
    production = Settings(env=Environment.TEST, data_dir=tmp_path)
    hashed = passwords.hash_password(production, "a long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_changed_parameters_rehash_on_next_login(
    sessions: SessionFactory, clock: FrozenClock, settings: Settings
) -> None:
    with sessions.begin() as session:
        user = make_user(session, username="rehash-me")
    stronger = settings.model_copy(update={"argon2_time_cost": 2, "argon2_memory_kib": 2048})
    other = SessionFactory(sessions.engine, clock=clock, **{**sessions.info, "settings": stronger})
    with other.begin() as session:
        outcome = signin.sign_in(
            session, username=user.username, password=user.password, totp_code=user.code(clock)
        )
        assert not isinstance(outcome, Refused)
    with sessions.begin() as session:
        stored = session.exec(select(User).where(User.id == user.id)).one().password_hash
    assert stored is not None
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")


def test_password_change_needs_the_current_password(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    wrong = {"current_password": "not-the-password", "new_password": "a brand new passphrase"}
    assert client.post(f"{API}/auth/password", json=wrong, headers=headers).status_code == 403
    right = {"current_password": alice.password, "new_password": "a brand new passphrase"}
    assert client.post(f"{API}/auth/password", json=right, headers=headers).status_code == 204
    alice.password = "a brand new passphrase"
    assert (
        client.get(f"{API}/auth/me", headers=login_headers(client, clock, alice)).status_code == 200
    )


def test_new_password_follows_the_rules_on_change(
    client: TestClient, clock: FrozenClock, alice: TestUser
) -> None:
    headers = login_headers(client, clock, alice)
    body = {"current_password": alice.password, "new_password": "short"}
    response = client.post(f"{API}/auth/password", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "new_password"]


def test_admins_cannot_set_passwords(client: TestClient, admin_headers: dict[str, str]) -> None:
    body = {"username": "bob", "display_name": "Bob", "password": "chosen by the admin"}
    response = client.post(f"{API}/users", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "password"]


def test_concurrent_hashing_is_bounded_by_a_semaphore(settings: Settings) -> None:
    one_slot = settings.model_copy(update={"argon2_max_concurrent": 1})
    slots = passwords._slots_for(one_slot)
    assert slots.acquire(timeout=1)
    try:
        with (
            mock.patch.object(passwords, "HASH_SLOT_TIMEOUT_SECONDS", 0.05),
            pytest.raises(ServiceUnavailable),
        ):
            passwords.hash_password(one_slot, "waiting for a free slot")
    finally:
        slots.release()
    assert passwords.hash_password(one_slot, "a slot is free again").startswith("$argon2id$")
