"""Read ``policies/*.yaml`` safely and all-or-nothing; every problem names its file, line and rule.

A policy file is read whole (at most :data:`MAX_POLICY_BYTES`), parsed by
:mod:`secops.policy.yamlsource` (PyYAML's safe loader, no anchors, aliases or duplicate keys),
then validated by the pydantic models of :mod:`secops.policy.spec` and the semantic checks of
:mod:`secops.policy.validation`. Each problem is placed on its line in the file.

Nothing half-loads: :func:`load_file`, :func:`load_directory` and :func:`load_policy` return
policies only when every file they read is free of problems, and raise :class:`PolicyInvalid`
listing every problem otherwise.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from secops.core.clock import SystemClock
from secops.core.config import Settings
from secops.core.errors import NotFound, SecopsError, ValidationFailed
from secops.policy.spec import PolicyFile
from secops.policy.validation import Issue, validate_policy
from secops.policy.yamlsource import Located, ParsedYaml, YamlRefused, parse_yaml

MAX_POLICY_BYTES: Final = 1_048_576
POLICY_SUFFIXES: Final = (".yaml", ".yml")


@dataclass(frozen=True)
class PolicyProblem:
    """One problem in a policy file: where it is (file, line, rule) and what is wrong."""

    path: str
    line: int | None
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.rule_id:
            where = f"{where} {self.rule_id}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The problem as JSON (the ``problems`` list of a problem+json body)."""
        return {"path": self.path, "line": self.line, "rule_id": self.rule_id,
                "message": self.message}  # fmt: skip


class PolicyInvalid(SecopsError):
    """A policy file has problems; nothing from any file was loaded."""

    status, type, title = 422, "urn:secops:problem:policy-invalid", "Policy file invalid"

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        first = str(self.problems[0]) if self.problems else "the policy files are invalid"
        super().__init__(first + more, extra={"problems": [p.as_dict() for p in self.problems]})


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy file that passed every check, with the SHA-256 of its bytes."""

    spec: PolicyFile
    path: Path
    sha256: str
    warnings: tuple[PolicyProblem, ...] = ()

    @property
    def id(self) -> str:
        """The policy's id (``policy.id``)."""
        return self.spec.policy.id

    @property
    def version(self) -> str:
        """The policy's version (``policy.version``)."""
        return self.spec.policy.version


@dataclass(frozen=True)
class PolicyReport:
    """What reading some policy files found: the good policies, problems and warnings."""

    files: tuple[Path, ...]
    policies: Mapping[str, LoadedPolicy]
    problems: tuple[PolicyProblem, ...]
    warnings: tuple[PolicyProblem, ...]

    @property
    def rule_count(self) -> int:
        """How many rules the policies read without problems hold."""
        return sum(len(p.spec.rules) for p in self.policies.values())


@dataclass
class _File:
    """The outcome of reading one file."""

    label: str
    policy: LoadedPolicy | None = None
    problems: list[PolicyProblem] = field(default_factory=list)
    warnings: list[PolicyProblem] = field(default_factory=list)
    id_line: int | None = None

    def add(self, found: Located) -> None:
        self.problems.append(PolicyProblem(self.label, found.line, found.rule_id, found.message))

    def issue(self, parsed: ParsedYaml, issue: Issue) -> PolicyProblem:
        found = parsed.place(issue.loc, issue.message)
        message = found.message
        if issue.also_at is not None:
            message += f" (also at line {parsed.locate(issue.also_at)[0]})"
        return PolicyProblem(self.label, found.line, found.rule_id, message)


class _ParseCache:
    """Results of files already checked, by path, SHA-256 of the bytes and day.

    Parsing YAML in pure Python costs about 0.1 s for the baseline, and every evaluation, waiver
    request and policy listing reads the files again. The same bytes on the same day give the
    same result, so a changed file is always read afresh (its digest differs).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, str, date], _File] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str, date]) -> _File | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, str, date], result: _File) -> None:
        with self._lock:
            self._entries[key] = result
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_CACHE: Final = _ParseCache(64)


def _read_one(
    path: Path, label: str, today: date, checks: Mapping[str, Collection[str]] | None
) -> _File:
    result = _File(label)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        result.add(Located(None, None, f"cannot read the file: {exc.strerror or exc}"))
        return result
    if len(data) > MAX_POLICY_BYTES:
        result.add(Located(None, None, f"larger than {MAX_POLICY_BYTES} bytes; not read"))
        return result
    digest = hashlib.sha256(data).hexdigest()
    key = (str(path), label, digest, today)
    cached = _CACHE.get(key) if checks is None else None
    if cached is not None:
        return cached
    _check_bytes(result, path, data, digest, today, checks)
    if checks is None:
        _CACHE.put(key, result)
    return result


def _check_bytes(
    result: _File,
    path: Path,
    data: bytes,
    digest: str,
    today: date,
    checks: Mapping[str, Collection[str]] | None,
) -> None:
    try:
        parsed = parse_yaml(data)
    except YamlRefused as exc:
        for found in exc.found:
            result.add(found)
        return
    result.id_line = parsed.locate(("policy", "id"))[0]
    try:
        spec = PolicyFile.model_validate(parsed.data)
    except ValidationError as exc:
        for found in sorted(parsed.place_errors(exc.errors()), key=lambda f: f.line or 0):
            result.add(found)
        return
    checked = validate_policy(spec, today=today, checks=checks)
    by_line = lambda p: p.line or 0  # noqa: E731 - the sort key of both lists
    result.problems.extend(sorted((result.issue(parsed, i) for i in checked.errors), key=by_line))
    result.warnings.extend(sorted((result.issue(parsed, i) for i in checked.warnings), key=by_line))
    if not result.problems:
        result.policy = LoadedPolicy(spec, path, digest, tuple(result.warnings))


def policy_files(directory: Path) -> list[Path]:
    """The policy files of a directory: ``*.yaml`` and ``*.yml``, not hidden, sorted by name."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in POLICY_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _expand(paths: Iterable[Path], problems: list[PolicyProblem]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = policy_files(path)
        elif path.is_file():
            found = [path]
        else:
            problems.append(PolicyProblem(str(path), None, None, "no such file or directory"))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files


def inspect_paths(
    paths: Iterable[Path],
    *,
    today: date | None = None,
    checks: Mapping[str, Collection[str]] | None = None,
) -> PolicyReport:
    """Read every policy file under ``paths`` (files, or directories of ``*.yaml``/``*.yml``).

    Reports every problem of every file, including a policy id used by two files. ``today``
    decides which review dates have passed (a warning); ``checks`` replaces the registry of
    check modules (tests).
    """
    day = today or SystemClock().now().date()
    problems: list[PolicyProblem] = []
    warnings: list[PolicyProblem] = []
    policies: dict[str, LoadedPolicy] = {}
    files = _expand(paths, problems)
    for file in files:
        result = _read_one(file, str(file), day, checks)
        problems.extend(result.problems)
        warnings.extend(result.warnings)
        if result.policy is None:
            continue
        first = policies.get(result.policy.id)
        if first is not None:
            problems.append(
                PolicyProblem(
                    result.label,
                    result.id_line,
                    None,
                    f"policy.id: policy id {result.policy.id!r} is also used by {first.path}",
                )
            )
            continue
        policies[result.policy.id] = result.policy
    return PolicyReport(tuple(files), policies, tuple(problems), tuple(warnings))


def check_paths(paths: Iterable[Path], *, today: date | None = None) -> list[PolicyProblem]:
    """Every problem in the policy files under ``paths``; empty when they would all load."""
    return list(inspect_paths(paths, today=today).problems)


def load_file(path: Path, *, today: date | None = None) -> LoadedPolicy:
    """Load one policy file, or raise :class:`PolicyInvalid` listing every problem in it."""
    if not path.is_file():
        raise PolicyInvalid([PolicyProblem(str(path), None, None, "no such file")])
    report = inspect_paths([path], today=today)
    if report.problems:
        raise PolicyInvalid(report.problems)
    return next(iter(report.policies.values()))


def load_directory(path: Path, *, today: date | None = None) -> dict[str, LoadedPolicy]:
    """Load every policy file of a directory by policy id; any problem in any file raises."""
    if not path.is_dir():
        raise PolicyInvalid([PolicyProblem(str(path), None, None, "no such directory")])
    report = inspect_paths([path], today=today)
    if report.problems:
        raise PolicyInvalid(report.problems)
    return dict(report.policies)


def load_policy(settings: Settings, policy_id: str | None) -> LoadedPolicy:
    """The policy named ``policy_id`` from the policies directory (the only one when None).

    Raises :class:`PolicyInvalid` when any policy file has a problem (evaluation never runs on a
    half-loaded set), ``NotFound`` for an unknown id or an empty directory, and
    ``ValidationFailed`` when no id is given and several policies are loaded.
    """
    directory = settings.effective_policies_dir
    policies = load_directory(directory)
    ids = ", ".join(sorted(policies)) or "none"
    if policy_id is None:
        if len(policies) == 1:
            return next(iter(policies.values()))
        if not policies:
            raise NotFound(f"No policy is loaded: {directory} holds no policy files.")
        raise ValidationFailed(
            f"Several policies are loaded ({ids}); name one with policy_id.",
            errors=[{"loc": ["policy_id"], "msg": f"required: one of {ids}"}],
        )
    policy = policies.get(policy_id)
    if policy is None:
        raise NotFound(f"No policy {policy_id!r} is loaded (loaded: {ids}).")
    return policy


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from :class:`~secops.policy.spec.PolicyFile`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:secops:policy-file",
        **PolicyFile.model_json_schema(),
    }


def render_json_schema() -> str:
    """The JSON Schema as the text shipped in ``secops/policy/data/policy.schema.json``."""
    return json.dumps(policy_json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_json_schema() -> str:
    """The text of the JSON Schema file shipped with the package."""
    data = resources.files("secops.policy.data").joinpath("policy.schema.json")
    return data.read_text("utf-8")
