"""Reading policy files: safe YAML only, problems on their line, all or nothing."""

from __future__ import annotations

import hashlib
import json
import textwrap
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from secops.core.config import Settings
from secops.core.errors import NotFound, ValidationFailed
from secops.core.problems import install_problem_handlers
from secops.policy import loader
from secops.policy.loader import (
    MAX_POLICY_BYTES,
    PolicyInvalid,
    PolicyProblem,
    check_paths,
    load_directory,
    load_file,
    load_policy,
    policy_json_schema,
    render_json_schema,
    shipped_json_schema,
)
from secops.policy.spec import PolicyFile
from secops.policy.yamlsource import MAX_DEPTH, ParsedYaml, parse_yaml

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good-policy.yaml"
BASELINE = Path(__file__).resolve().parents[2] / "policies" / "ministry-baseline.yaml"

HEADER = """\
policy:
  id: {policy_id}
  version: "1"
  title: Test policy
  owner: Security office
  review_by: 2099-01-01
rules:
  - id: MFA.ENABLED.1v1
    title: MFA is turned on
    severity: critical
    condition: {{field: mfa.enabled, op: eq, value: true}}
    rationale: A password alone is not enough.
    remediation: Turn on two-step verification.
"""


def policy_text(policy_id: str = "test-policy", more: str = "") -> str:
    """A valid one-rule policy (its rule on lines 8-13), plus ``more`` lines appended."""
    return HEADER.format(policy_id=policy_id) + more


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> tuple[PolicyProblem, ...]:
    with pytest.raises(PolicyInvalid) as caught:
        load_file(path)
    return caught.value.problems


def test_good_policy_loads_with_the_sha256_of_its_bytes() -> None:
    loaded = load_file(GOOD, today=date(2026, 1, 15))

    assert loaded.id == "test-baseline"
    assert loaded.version == "2026.1"
    assert loaded.path == GOOD
    assert loaded.sha256 == hashlib.sha256(GOOD.read_bytes()).hexdigest()
    assert [r.id for r in loaded.spec.rules][:2] == ["MFA.ENABLED.1v1", "MFA.NOSMS.1v1"]
    assert loaded.warnings == ()


def test_shipped_baseline_loads_without_problems() -> None:
    loaded = load_file(BASELINE)

    assert len(loaded.spec.rules) >= 25
    assert check_paths([BASELINE.parent]) == []


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", policy_text(more="  - id: [unclosed\n"))

    (problem,) = problems_of(path)

    assert problem.path == str(path)
    assert problem.line == 15
    assert problem.message == (
        "YAML: while parsing a flow sequence (from line 14): expected ',' or ']', "
        "but got '<stream end>'"
    )


def test_tab_indentation_is_refused_with_a_plain_explanation(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", policy_text().replace("    severity:", "\tseverity:"))

    (problem,) = problems_of(path)

    assert problem.line == 10
    assert "tab character" in problem.message


@pytest.mark.parametrize(
    "more",
    [
        "  - &rule {id: MFA.OTHER.1v1}\n",
        "  - *rule\n",
    ],
    ids=["anchor", "alias"],
)
def test_anchors_and_aliases_are_refused(tmp_path: Path, more: str) -> None:
    path = write(tmp_path, "p.yaml", policy_text(more=more))

    (problem,) = problems_of(path)

    assert problem.line == 14
    assert "anchors and aliases" in problem.message


def test_alias_bomb_is_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    bomb = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}]\n"
    path = write(tmp_path, "bomb.yaml", bomb)

    (problem,) = problems_of(path)

    assert problem.line == 1
    assert "anchors and aliases" in problem.message


def test_merge_key_is_refused(tmp_path: Path) -> None:
    text = policy_text().replace("    severity: critical\n", "    <<: {severity: critical}\n")
    path = write(tmp_path, "p.yaml", text)

    (problem,) = problems_of(path)

    assert (problem.line, problem.rule_id) == (10, "MFA.ENABLED.1v1")
    assert "merge keys" in problem.message


def test_duplicate_key_is_refused_instead_of_the_last_one_winning(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", policy_text(more="    severity: info\n"))

    (problem,) = problems_of(path)

    assert (problem.line, problem.rule_id) == (14, "MFA.ENABLED.1v1")
    assert problem.message == "duplicate key 'severity' (first at line 10)"


def test_file_over_the_size_cap_is_not_read(tmp_path: Path) -> None:
    padding = "# padding\n" * (MAX_POLICY_BYTES // 10 + 1)
    path = write(tmp_path, "huge.yaml", policy_text() + padding)

    (problem,) = problems_of(path)

    assert problem.line is None
    assert f"larger than {MAX_POLICY_BYTES} bytes" in problem.message


def test_deep_nesting_is_refused_without_exhausting_the_stack(tmp_path: Path) -> None:
    depth = 100_000
    path = write(tmp_path, "deep.yaml", "rules: " + "[" * depth + "]" * depth + "\n")

    (problem,) = problems_of(path)

    assert f"nested deeper than {MAX_DEPTH} levels" in problem.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"# only a comment\n", "the file is empty"),
        (b"policy: {}\n---\npolicy: {}\n", "expected a single document"),
        (b"\xff\xfe\x00bad", "not UTF-8 text"),
        (b"- just\n- a list\n", "the file must be a mapping with the keys 'policy' and 'rules'"),
        (b"policy: !!python/object:os.system {}\n", "could not determine a constructor"),
        (b"a: " + b"9" * 5000 + b"\n", "a number longer than 30 digits"),
    ],
    ids=["empty", "comment-only", "two-documents", "not-utf8", "list", "python-tag", "huge-int"],
)
def test_unusable_files_are_refused_with_a_reason(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = write(tmp_path, "p.yaml", content)

    problems = problems_of(path)

    assert any(expected in p.message for p in problems), problems


def test_shape_errors_are_placed_on_their_line_inside_their_rule(tmp_path: Path) -> None:
    more = """\
      - id: MFA.SECOND.1v1
        title: A second rule
        severity: severe
        remedation: Misspelt key.
        condition:
          all:
            - {field: mfa.enabled, op: equals, value: true}
            - {field: mfa.enabled, op: eq, value: {a: 1}}
        rationale: Long enough rationale.
    """
    path = write(tmp_path, "p.yaml", policy_text(more=textwrap.indent(textwrap.dedent(more), "  ")))

    problems = problems_of(path)

    assert [str(p) for p in problems] == [
        f"{path}:14 MFA.SECOND.1v1: required key 'remediation' is missing",
        f"{path}:16 MFA.SECOND.1v1: severity: must be one of 'critical', 'high', 'medium', "
        "'low' or 'info'",
        f"{path}:17 MFA.SECOND.1v1: remedation: unknown key (did you mean 'remediation' "
        "or 'rationale'?)",
        f"{path}:20 MFA.SECOND.1v1: condition.all[0].op: must be one of 'eq', 'ne', 'lt', "
        "'le', 'gt', 'ge', 'in', 'not_in', 'contains', 'not_contains', 'contains_any', "
        "'contains_none', 'subset_of', 'is_set' or 'is_not_set'",
        f"{path}:21 MFA.SECOND.1v1: condition.all[1].value: must be true or false, a number, "
        "a string or a list",
    ]


def test_header_errors_name_the_header_key(tmp_path: Path) -> None:
    text = policy_text(policy_id="Not_An_Id").replace("2099-01-01", "next year")
    path = write(tmp_path, "p.yaml", text)

    problems = problems_of(path)

    assert [(p.line, p.rule_id, p.message) for p in problems] == [
        (2, None, "policy.id: must be 2 to 63 lower-case letters, digits and dashes"),
        (6, None, "policy.review_by: must be a date (YYYY-MM-DD)"),
    ]


def test_directory_with_one_broken_file_loads_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a-good.yaml", policy_text("good-policy"))
    write(tmp_path, "b-broken.yml", policy_text("broken-policy", "  - id: [unclosed\n"))

    with pytest.raises(PolicyInvalid) as caught:
        load_directory(tmp_path)

    assert [p.path for p in caught.value.problems] == [str(tmp_path / "b-broken.yml")]


def test_directory_reads_yaml_and_yml_but_not_hidden_or_other_files(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", policy_text("policy-one"))
    write(tmp_path, "two.yml", policy_text("policy-two"))
    write(tmp_path, ".editor-swap.yaml", "not: [valid")
    write(tmp_path, "notes.txt", "not: [valid")

    policies = load_directory(tmp_path)

    assert sorted(policies) == ["policy-one", "policy-two"]
    assert policies["policy-two"].path == tmp_path / "two.yml"


def test_policy_id_used_by_two_files_is_a_problem(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", policy_text("same-id"))
    second = write(tmp_path, "b.yaml", policy_text("same-id"))

    with pytest.raises(PolicyInvalid) as caught:
        load_directory(tmp_path)

    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == (str(second), 2)
    assert problem.message == f"policy.id: policy id 'same-id' is also used by {first}"


def test_missing_file_and_directory_are_problems(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid):
        load_file(tmp_path / "absent.yaml")
    with pytest.raises(PolicyInvalid):
        load_directory(tmp_path / "absent")
    assert check_paths([tmp_path / "absent.yaml"]) == [
        PolicyProblem(str(tmp_path / "absent.yaml"), None, None, "no such file or directory")
    ]


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy_text("policy-a", "    severity: info\n"))
    write(tmp_path, "b.yaml", policy_text("policy-b").replace("mfa.enabled", "mfa.enabeld"))

    problems = check_paths([tmp_path])

    assert [(Path(p.path).name, p.line) for p in problems] == [("a.yaml", 14), ("b.yaml", 11)]


def test_policy_invalid_is_a_422_problem_listing_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", policy_text("policy-a", "    severity: info\n    title: again\n"))
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/policies")
    def policies() -> dict[str, str]:
        return dict.fromkeys(load_directory(tmp_path), "ok")

    response = TestClient(app).get("/policies")

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:secops:problem:policy-invalid"
    assert body["detail"] == (
        f"{tmp_path / 'a.yaml'}:14 MFA.ENABLED.1v1: duplicate key 'severity' "
        "(first at line 10) (+1 more)"
    )
    assert [p["line"] for p in body["problems"]] == [14, 15]
    assert body["problems"][0]["rule_id"] == "MFA.ENABLED.1v1"


def _settings(directory: Path) -> Settings:
    return Settings(policies_dir=directory)


def test_load_policy_returns_the_only_policy_when_none_is_named(tmp_path: Path) -> None:
    write(tmp_path, "only.yaml", policy_text("only-policy"))

    assert load_policy(_settings(tmp_path), None).id == "only-policy"
    assert load_policy(_settings(tmp_path), "only-policy").id == "only-policy"


def test_load_policy_needs_a_name_when_several_are_loaded(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", policy_text("policy-one"))
    write(tmp_path, "two.yaml", policy_text("policy-two"))

    with pytest.raises(ValidationFailed, match="policy-one, policy-two"):
        load_policy(_settings(tmp_path), None)
    assert load_policy(_settings(tmp_path), "policy-two").id == "policy-two"


def test_load_policy_unknown_id_or_empty_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="holds no policy files"):
        load_policy(_settings(tmp_path), None)
    write(tmp_path, "one.yaml", policy_text("policy-one"))
    with pytest.raises(NotFound, match=r"'nope' is loaded \(loaded: policy-one\)"):
        load_policy(_settings(tmp_path), "nope")


def test_load_policy_refuses_to_run_when_any_file_is_broken(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", policy_text("good-policy"))
    write(tmp_path, "bad.yaml", policy_text("bad-policy").replace("critical", "urgent"))

    with pytest.raises(PolicyInvalid):
        load_policy(_settings(tmp_path), "good-policy")


def test_file_is_read_again_after_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", policy_text())
    first = load_file(path)
    path.write_text(policy_text().replace('version: "1"', 'version: "2"'), encoding="utf-8")

    second = load_file(path)

    assert (first.version, second.version) == ("1", "2")
    assert first.sha256 != second.sha256


def test_shipped_json_schema_is_the_one_generated_from_the_models() -> None:
    assert shipped_json_schema() == render_json_schema()
    schema = json.loads(shipped_json_schema())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"].keys() == {"policy", "rules"}
    assert schema["$defs"]["Rule"]["additionalProperties"] is False
    assert policy_json_schema()["required"] == ["policy", "rules"]
    assert PolicyFile.model_json_schema()["$defs"].keys() == schema["$defs"].keys()


def test_unchanged_file_is_parsed_once_and_a_changed_one_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []

    def counting(data: bytes) -> ParsedYaml:
        calls.append(data)
        return parse_yaml(data)

    monkeypatch.setattr(loader, "parse_yaml", counting)
    path = write(tmp_path, "p.yaml", policy_text())

    first, again = load_file(path), load_file(path)
    path.write_text(policy_text(more="    severity: low\n"), encoding="utf-8")
    with pytest.raises(PolicyInvalid):
        load_file(path)
    with pytest.raises(PolicyInvalid):
        load_file(path)

    assert again is first
    assert len(calls) == 2
