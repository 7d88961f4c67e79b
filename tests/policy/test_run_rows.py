"""RunRows: results stored as one letter per rule, read back by rule id in any later order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic_core import to_json

from secops.policy.evaluation import (
    RESULT_COLUMNS,
    RunRows,
    decode_first_seen,
    decode_statuses,
)
from secops.policy.outcomes import ResultStatus, RuleResult

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RULES = {
    rule_id: {"severity": "high", "criticality": "shall"} for rule_id in ("A.1v1", "B.1v1", "C.1v1")
}


def results(*statuses: ResultStatus) -> list[RuleResult]:
    return [RuleResult(rule_id, status, f"{rule_id} is {status}") for rule_id, status in
            zip(RULES, statuses, strict=True)]  # fmt: skip


def stored(rows: RunRows) -> dict[str, object]:
    (row,) = rows.drain()[0]
    return dict(zip(RESULT_COLUMNS, row, strict=True))


def test_statuses_and_first_seen_read_back_by_rule_id() -> None:
    rows = RunRows(uuid.uuid4(), 1, "p", NOW, RULES)
    rows.add(uuid.uuid4(), uuid.uuid4(), results(ResultStatus.PASS, ResultStatus.FAIL,
             ResultStatus.NOT_APPLICABLE), None, b"{}")  # fmt: skip

    row = stored(rows)

    assert row["statuses"] == "pfn"
    assert decode_statuses(str(row["statuses"]), list(RULES)) == {
        "A.1v1": "pass", "B.1v1": "fail", "C.1v1": "not_applicable",
    }  # fmt: skip
    assert decode_first_seen(row["first_seen"], list(RULES)) == {  # type: ignore[arg-type]
        "B.1v1": NOW.isoformat()
    }


def test_a_reordered_policy_reads_the_earlier_run_by_rule_id() -> None:
    first = RunRows(uuid.uuid4(), 1, "p", NOW, RULES)
    account, mission = uuid.uuid4(), uuid.uuid4()
    first.add(account, mission, results(ResultStatus.FAIL, ResultStatus.PASS,
              ResultStatus.MANUAL), None, b"{}")  # fmt: skip
    before = stored(first)
    reordered = {rule_id: RULES[rule_id] for rule_id in ("C.1v1", "A.1v1", "B.1v1")}
    later = NOW + timedelta(days=1)
    second = RunRows(uuid.uuid4(), 2, "p", later, reordered)
    previous = second.previous(
        second.alignment(list(RULES)), str(before["statuses"]),
        to_json(before["first_seen"]).decode(), "{}", first.run_id,
    )  # fmt: skip

    second.add(account, mission, [RuleResult("C.1v1", ResultStatus.PASS, "fixed"),
               RuleResult("A.1v1", ResultStatus.FAIL, "still"),
               RuleResult("B.1v1", ResultStatus.ERROR, "broke")], previous, b"{}")  # fmt: skip

    findings = {f[3]: (f[8], f[9], f[10]) for f in second.drain()[1]}
    assert findings == {
        "A.1v1": ("unchanged", "fail", NOW),
        "B.1v1": ("regressed", "pass", later),
        "C.1v1": ("resolved", "manual", NOW),
    }
    assert second.previous_state(previous).statuses == {
        "A.1v1": ResultStatus.FAIL, "B.1v1": ResultStatus.PASS, "C.1v1": ResultStatus.MANUAL,
    }  # fmt: skip


def test_a_reason_given_by_many_findings_is_stored_once_per_run() -> None:
    rows = RunRows(uuid.uuid4(), 1, "p", NOW, RULES)
    failing = results(ResultStatus.FAIL, ResultStatus.FAIL, ResultStatus.PASS)
    for _ in range(3):
        rows.add(uuid.uuid4(), uuid.uuid4(), failing, None, b"{}")

    _, findings, reasons = rows.drain()

    assert sorted(text for _, _, text in reasons) == ["A.1v1 is fail", "B.1v1 is fail"]
    texts = {number: text for _, number, text in reasons}
    assert [texts[f[5]] for f in findings] == ["A.1v1 is fail", "B.1v1 is fail"] * 3
