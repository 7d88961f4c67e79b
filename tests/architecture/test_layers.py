"""The architecture holds: import layers (import-linter) and scoped repository queries.

STYLE.md section 4: ``missions.scope`` is the only way to filter by mission, so a ``select()`` in
a ``repository.py`` function that never calls ``scope()`` fails here, unless the function says
why with a ``# unscoped: <reason>`` comment (tables that belong to no mission, such as users).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "secops"
UNSCOPED = re.compile(r"#\s*unscoped:\s*\S")
# ``missions.scope``; layers below missions (audit) keep a local ``_scoped`` of the same shape.
SCOPE_CALL = re.compile(r"^_?scoped?$")


def test_import_layers_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")

    result = subprocess.run(  # noqa: S603 - the venv's own tool, fixed arguments
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@dataclass(frozen=True)
class Unscoped:
    """A function that builds a query without passing it through ``scope``."""

    path: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.function}() selects without scope()"


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _calls(node: ast.AST) -> set[str]:
    return {
        name
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call) and (name := _called_name(sub)) is not None
    }


def _justified(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    # The line above the function (or its decorators) may carry the reason, or any line inside.
    window = lines[max(first - 2, 0) : node.end_lineno or node.lineno]
    return any(UNSCOPED.search(line) for line in window)


def unscoped_selects(source: str, path: str = "<source>") -> list[Unscoped]:
    """Functions in ``source`` that call ``select()`` but never ``scope()``, unjustified."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        called = _calls(node)
        scoped = any(SCOPE_CALL.match(name) for name in called)
        if "select" in called and not scoped and not _justified(lines, node):
            found.append(Unscoped(path, node.lineno, node.name))
    for node in tree.body:
        # A query built at import time is reused by functions that cannot scope it.
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and "select" in _calls(node)
            and not any(UNSCOPED.search(line) for line in lines[node.lineno - 2 : node.lineno])
        ):
            found.append(Unscoped(path, node.lineno, "<module>"))
    return found


def repository_files() -> list[Path]:
    return sorted(PACKAGE.rglob("repository.py"))


def test_every_repository_query_goes_through_scope() -> None:
    problems = [
        str(problem)
        for path in repository_files()
        for problem in unscoped_selects(path.read_text(), str(path.relative_to(ROOT)))
    ]

    assert problems == [], "\n".join(problems)


SCOPED = """
def get(session, principal, mission_id):
    query = select(Mission).where(Mission.id == mission_id)
    return session.scalars(scope(query, principal, Permission.MISSIONS_READ, Mission.id)).one()
"""
SCOPED_BY_ATTRIBUTE = """
def listing(session, principal):
    return session.scalars(missions_scope.scope(sa.select(Account), principal, P, Account.m))
"""
FORGOT = """
def get(session, principal, account_id):
    return session.scalars(select(Account).where(Account.id == account_id)).one()
"""
JUSTIFIED_INSIDE = """
def by_username(session, username):
    # unscoped: users belong to no mission
    return session.scalars(select(User).where(User.username == username)).first()
"""
JUSTIFIED_ABOVE = """
# unscoped: sessions are looked up by token hash before anyone is known
@cache
def by_token(session, token_hash):
    return session.scalars(select(UserSession).where(UserSession.hash == token_hash)).first()
"""
EMPTY_REASON = """
def everything(session):
    # unscoped:
    return session.scalars(select(Account)).all()
"""
MODULE_LEVEL = """
_ALL = select(Account)

def everything(session, principal):
    return session.scalars(scope(_ALL, principal, P, Account.mission_id)).all()
"""
LOCAL_HELPER = """
def list_events(session, principal):
    return session.scalars(_scoped(select(AuditEvent), principal)).all()
"""
NESTED = """
class Repo:
    def get(self, session, account_id):
        def build():
            return select(Account)
        return scope(build(), self.principal, P, Account.mission_id)
"""


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        (SCOPED, []),
        (SCOPED_BY_ATTRIBUTE, []),
        (FORGOT, ["get"]),
        (JUSTIFIED_INSIDE, []),
        (JUSTIFIED_ABOVE, []),
        (EMPTY_REASON, ["everything"]),
        (MODULE_LEVEL, ["<module>"]),
        (LOCAL_HELPER, []),
        (NESTED, ["build"]),
    ],
    ids=[
        "scoped",
        "scoped-by-attribute",
        "forgot-scope",
        "justified-inside",
        "justified-above",
        "empty-reason",
        "module-level-query",
        "local-scoped-helper",
        "nested-helper",
    ],
)
def test_the_scope_check_flags_only_unjustified_selects(source: str, flagged: list[str]) -> None:
    assert [u.function for u in unscoped_selects(source)] == flagged
