"""Logs: JSON lines in production, one access line per request, secrets redacted, no injection."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from secops.core import logging as logging_module
from secops.core.config import Environment, Settings
from secops.core.logging import configure_logging, get_logger, shared_processors
from tests.core.probes import PROBE_PREFIX

# One canary per way a secret can reach the server; each must vanish from every log line.
CANARIES = {
    "authorization header": "CANARY-authz-4c8d1",
    "api key header": "CANARY-apikey-77ab2",
    "cookie header": "CANARY-cookie-90ee3",
    "token-shaped header": "secops_k_CANARYtokenheader0001",
    "password body field": "CANARY-password-5d2a5",
    "nested secret": "CANARY-nested-b7c16",
    "query parameter": "CANARY-query-0f3d7",
    "exception message": "CANARYexceptionCANARY0001",
    "exception password": "CANARY-EXC-PASSWORD",
}
INJECTION = 'mallory\r\n{"x":1}\n{"event":"auth.login_succeeded","user":"admin"}\u2028'


def json_lines(output: io.StringIO) -> list[dict[str, Any]]:
    """Every line of the captured stream, each of which must be one JSON object."""
    lines = output.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def send_every_canary(probe: TestClient) -> None:
    probe.post(
        f"{PROBE_PREFIX}/careless",
        params={"token": CANARIES["query parameter"]},
        headers={
            "Authorization": f"Bearer {CANARIES['authorization header']}",
            "X-Api-Key": CANARIES["api key header"],
            "Cookie": f"__Host-secops={CANARIES['cookie header']}",
            "X-Note": CANARIES["token-shaped header"],
        },
        json={
            "username": "alice",
            "password": CANARIES["password body field"],
            "profile": {"recovery": {"api_key": CANARIES["nested secret"]}},
        },
    )
    probe.get(f"{PROBE_PREFIX}/crash")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the suite's JSON logging back after a test that reconfigures it.

    Back onto the stream it wrote to before: during teardown ``sys.stderr`` may still be the
    test's ``capsys`` capture, which is closed right after and would break every later log line.
    """
    before = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    stream = before[0].stream if before else None
    yield
    configure_logging(fmt="json", level="info", stream=stream)


def test_no_canary_reaches_the_json_log_output(probe: TestClient, log_output: io.StringIO) -> None:
    send_every_canary(probe)

    text = log_output.getvalue()
    events = [e["event"] for e in json_lines(log_output)]
    assert "probe.careless" in events
    assert "http.unhandled_error" in events
    leaked = [name for name, canary in CANARIES.items() if canary in text]
    assert leaked == []
    assert "[redacted]" in text


def test_no_canary_reaches_the_captured_event_dicts(probe: TestClient) -> None:
    with capture_logs(processors=shared_processors()) as logs:
        send_every_canary(probe)

    careless = next(e for e in logs if e["event"] == "probe.careless")
    assert careless["headers"]["authorization"] == "[redacted]"
    assert careless["headers"]["x-api-key"] == "[redacted]"
    assert careless["headers"]["cookie"] == "[redacted]"
    assert careless["body"]["password"] == "[redacted]"
    assert careless["query"]["token"] == "[redacted]"
    dumped = repr(logs)
    assert [name for name, canary in CANARIES.items() if canary in dumped] == []


def test_logged_tracebacks_carry_no_local_variables(
    probe: TestClient, log_output: io.StringIO
) -> None:
    def sign_in() -> None:
        password = "CANARY-local-variable"  # a local that structlog would show by default
        raise ValueError(f"refused for {len(password)}-character password")

    log = get_logger("tests.logging")
    try:
        sign_in()
    except ValueError:
        log.exception("auth.sign_in_crashed")

    (event,) = [e for e in json_lines(log_output) if e["event"] == "auth.sign_in_crashed"]
    assert all("locals" not in frame for frame in event["exception"][0]["frames"])
    assert "CANARY-local-variable" not in log_output.getvalue()


def test_every_request_writes_one_access_line_with_the_route_template(
    probe: TestClient,
) -> None:
    note_id = uuid.uuid4()
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = probe.get(f"{PROBE_PREFIX}/notes/{note_id}")
        probe.get("/healthz")

    access = [e for e in logs if e["event"] == "http.request"]
    assert len(access) == 2
    first = access[0]
    assert first["route"] == f"{PROBE_PREFIX}/notes/{{note_id}}"
    assert str(note_id) not in json.dumps(first, default=str)
    assert first["method"] == "GET"
    assert first["status"] == 404
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    assert first["request_id"] == response.headers["x-request-id"]


def test_unmatched_paths_are_logged_without_the_path(probe: TestClient) -> None:
    with capture_logs() as logs:
        probe.get("/wp-admin/secops_s_CANARYpathCANARY0001")

    (line,) = [e for e in logs if e["event"] == "http.request"]
    assert line["route"] == "<unmatched>"
    assert "CANARY" not in repr(logs)


def test_request_id_is_bound_to_lines_logged_inside_the_request(
    probe: TestClient, log_output: io.StringIO
) -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]

    for request_id in ids:
        probe.post(
            f"{PROBE_PREFIX}/careless",
            json={"username": "bob"},
            headers={"X-Request-ID": request_id},
        )

    lines = json_lines(log_output)
    for request_id in ids:
        mine = [e["event"] for e in lines if e.get("request_id") == request_id]
        assert mine == ["probe.careless", "http.request"]


def test_log_injection_stays_inside_one_json_line(
    probe: TestClient, log_output: io.StringIO
) -> None:
    probe.post(f"{PROBE_PREFIX}/careless", json={"username": INJECTION})
    probe.get(f"{PROBE_PREFIX}/notes/%0d%0a%7B%22x%22%3A1%7D")

    lines = json_lines(log_output)
    assert [e["event"] for e in lines] == ["probe.careless", "http.request", "http.request"]
    assert lines[0]["username"].startswith("mallory")
    assert not any(e.get("x") == 1 or e.get("user") == "admin" for e in lines)


def test_log_injection_stays_on_one_console_line(probe: TestClient, restore_logging: None) -> None:
    output = io.StringIO()
    configure_logging(fmt="console", level="info", stream=output)

    probe.post(f"{PROBE_PREFIX}/careless", json={"username": INJECTION})

    lines = output.getvalue().splitlines()
    assert len(lines) == 2
    assert "probe.careless" in lines[0]
    assert "http.request" in lines[1]
    assert not any(line.startswith('{"x"') for line in lines)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (Environment.PRODUCTION, "json"),
        (Environment.TEST, "json"),
        (Environment.DEVELOPMENT, "console"),
    ],
)
def test_log_format_follows_the_environment(env: Environment, expected: str) -> None:
    settings = Settings(env=env, secret_key="s" * 40, database_url="sqlite://")

    assert settings.effective_log_format == expected


def test_production_app_writes_json_lines_to_stderr(
    client_with: Callable[..., TestClient],
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    client = client_with(
        env=Environment.PRODUCTION, secret_key="p" * 40, log_format=None, configure_logs=True
    )

    with client:
        client.get("/healthz")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    (access,) = [e for e in lines if e["event"] == "http.request"]
    assert access["level"] == "info"
    assert access["timestamp"].endswith("Z")


def test_development_app_writes_readable_lines(
    client_with: Callable[..., TestClient],
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    client = client_with(env=Environment.DEVELOPMENT, log_format=None, configure_logs=True)

    with client:
        client.get("/healthz")

    err = capsys.readouterr().err
    assert "http.request" in err
    assert not err.lstrip().startswith("{")


def _scrub_every_pattern(text: str) -> str:
    """The redaction with every pattern applied, without the quick look that skips clean text."""
    for pattern in logging_module.SECRET_VALUE_PATTERNS:
        text = pattern.sub(logging_module.REDACTED, text)
    text = logging_module.SECRET_ASSIGNMENT.sub(rf"\1\2{logging_module.REDACTED}", text)
    return logging_module.CONTROL_CHARS.sub(logging_module._escape_control, text)


# Fragments that make the patterns fire, mixed with ordinary text and separators.
_FRAGMENTS = st.sampled_from(
    [
        "secops_s_",
        "secops_k_",
        "Bearer ",
        "bearer\t",
        "JBSWY3DPEHPK3PXPJBSWY3DP",
        "ABCDEFGHIJKLMNOPQRSTUVWX",
        "234567ABCDEF",
        "password=",
        "Token: ",
        "api-key=",
        "ApiKey:",
        "cookie=",
        "PASSWD ",
        "secret",
        "'quoted value'",
        "\n",
        "\u2028",
        "\x7f",
        " ",
        "=",
        ",",
        "abc",
        "xyz123",
    ]
)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.lists(_FRAGMENTS, max_size=12).map("".join)))
def test_the_quick_look_never_changes_what_redaction_gives(text: str) -> None:
    assert logging_module.scrub_value(text) == _scrub_every_pattern(text)


def test_clean_text_comes_back_as_the_same_object() -> None:
    text = "3fa85f64-5717-4562-b3fc-2c963f66afa6 x/embassy.paris"

    assert logging_module.scrub_value(text) is text


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.one_of(st.text(max_size=30), st.lists(_FRAGMENTS, max_size=6).map("".join)), max_size=8
    )
)
def test_a_list_of_texts_is_scrubbed_as_each_text_would_be(texts: list[str]) -> None:
    assert logging_module.scrub_value(texts) == [_scrub_every_pattern(t) for t in texts]


_CASES = st.sampled_from(
    ["PassWord", "BEARER", "Api-Key", "APIKEY", "api_KEY", "SECOPS_s_", "secops_s_", "Cookie"]
)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.lists(st.one_of(_FRAGMENTS, _CASES, st.text(max_size=4)), max_size=10).map("".join),
    )
)
def test_the_quick_look_agrees_with_the_suspect_pattern(text: str) -> None:
    found = logging_module.SECRET_SUSPECT.search(text) is not None
    assert logging_module._suspect(text) is found


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.lists(st.one_of(_FRAGMENTS, st.characters(max_codepoint=0x2030)), max_size=12).map(
            "".join
        ),
    )
)
def test_the_quick_control_check_agrees_with_the_control_pattern(text: str) -> None:
    found = logging_module.CONTROL_CHARS.search(text) is not None
    assert logging_module.has_control(text) is found
