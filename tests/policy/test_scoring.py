"""The score formula: severity weights, not-applicable left out, aggregation by weights, waivers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.principal import EVERYWHERE, Principal, Role
from secops.policy.outcomes import ResultStatus
from secops.policy.scoring import SEVERITY_WEIGHTS, Tally, score, tally
from secops.policy.spec import Severity
from tests.factories.missions import Ministry, acting, make_ministry
from tests.factories.policy import Inventory, make_inventory, policies_dir

PASS, FAIL = ResultStatus.PASS, ResultStatus.FAIL
MANUAL, ERROR, NA = ResultStatus.MANUAL, ResultStatus.ERROR, ResultStatus.NOT_APPLICABLE
ActAs = Callable[[Principal], None]

results = st.lists(st.tuples(st.sampled_from(list(ResultStatus)), st.sampled_from(list(Severity))))


def test_weights_are_critical_10_high_5_medium_3_low_1_info_0() -> None:
    assert {s.value: w for s, w in SEVERITY_WEIGHTS.items()} == {
        "critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0,
    }  # fmt: skip


def test_score_is_weighted_share_of_passes_rounded_half_up_to_one_decimal() -> None:
    # critical pass (10) + high fail (5) + medium manual (3) + low error (1): 10 / 19
    one_account = tally(
        [(PASS, Severity.CRITICAL), (FAIL, Severity.HIGH), (MANUAL, Severity.MEDIUM),
         (ERROR, Severity.LOW)]
    )  # fmt: skip

    assert one_account.score == 52.6
    assert score(1, 8) == 12.5  # 12.5 exactly: half-up keeps it
    assert score(1, 16) == 6.3  # 6.25 rounds up, not to the even 6.2
    assert score(2, 3) == 66.7


def test_not_applicable_is_left_out_and_nothing_applicable_scores_none() -> None:
    with_na = tally([(PASS, Severity.HIGH), (NA, Severity.CRITICAL)])
    only_na = tally([(NA, Severity.CRITICAL), (NA, Severity.LOW)])
    only_info = tally([(FAIL, Severity.INFO)])

    assert with_na.score == 100.0
    assert with_na.not_applicable == 1
    assert only_na.score is None
    assert only_info.score is None  # info weighs nothing: there is nothing to score


def test_manual_and_error_count_against_the_score_like_fail() -> None:
    for status in (FAIL, MANUAL, ERROR):
        assert tally([(PASS, Severity.HIGH), (status, Severity.HIGH)]).score == 50.0


def test_ministry_score_sums_weights_rather_than_averaging_percentages() -> None:
    big = tally([(PASS, Severity.CRITICAL)] * 9 + [(FAIL, Severity.CRITICAL)])  # 90 %
    small = tally([(FAIL, Severity.LOW)])  # 0 %
    ministry = Tally()
    ministry.merge(big)
    ministry.merge(small)

    assert ministry.score == round(100 * 90 / 101, 1)  # 89.1, not the average 45.0


@given(results)
def test_score_stays_between_0_and_100_and_none_only_without_weight(
    pairs: list[tuple[ResultStatus, Severity]],
) -> None:
    total = tally(pairs)

    weight = sum(SEVERITY_WEIGHTS[s] for status, s in pairs if status is not NA)
    assert total.weight_total == weight
    if weight == 0:
        assert total.score is None
    else:
        assert total.score is not None
        assert 0.0 <= total.score <= 100.0
        assert abs(total.score - 100 * total.weight_pass / weight) <= 0.05 + 1e-9


@given(results, results)
def test_merging_tallies_equals_tallying_everything_at_once(
    a: list[tuple[ResultStatus, Severity]], b: list[tuple[ResultStatus, Severity]]
) -> None:
    merged = tally(a)
    merged.merge(tally(b))

    whole = tally(a + b)

    assert (merged.weight_pass, merged.weight_total, merged.open) == (
        whole.weight_pass, whole.weight_total, whole.open,
    )  # fmt: skip
    assert merged.score == whole.score


@given(results, st.integers(min_value=0, max_value=5))
def test_turning_a_failure_into_a_pass_never_lowers_the_score(
    pairs: list[tuple[ResultStatus, Severity]], index: int
) -> None:
    failures = [i for i, (status, _) in enumerate(pairs) if status is FAIL]
    if not failures:
        return
    fixed = list(pairs)
    position = failures[index % len(failures)]
    fixed[position] = (PASS, pairs[position][1])

    before, after = tally(pairs).score, tally(fixed).score

    assert before is None or after is None or after >= before


def test_weights_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="weight_pass"):
        score(5, 3)


# -- stored scores ---------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"policies_dir": policies_dir(tmp_path)})


@pytest.fixture
def ministry(sessions: SessionFactory) -> Ministry:
    with sessions.begin() as session:
        return make_ministry(session)


@pytest.fixture
def inventory(sessions: SessionFactory, ministry: Ministry) -> Inventory:
    with sessions.begin() as session:
        return make_inventory(session, ministry)


@pytest.fixture
def admin(act_as: ActAs) -> Principal:
    principal = acting({Role.ADMIN: EVERYWHERE}, name="root")
    act_as(principal)
    return principal


def _account_tally(client: TestClient, account_id: Any) -> Tally:
    body = client.get(f"/api/v1/accounts/{account_id}/policy-results").json()
    return tally((ResultStatus(r["status"]), Severity(r["severity"])) for r in body["results"])


def test_stored_mission_and_overall_scores_match_the_formula_over_each_result(
    client: TestClient, admin: Principal, inventory: Inventory
) -> None:
    assert client.post("/api/v1/policy/runs", json={}).status_code == 201

    report = client.get("/api/v1/policy/scores").json()

    paris = Tally()
    for account in (inventory.paris_x, inventory.paris_fb):
        paris.merge(_account_tally(client, account.id))
    everyone = Tally()
    everyone.merge(paris)
    for account in (inventory.lyon_x, inventory.nairobi_x):
        everyone.merge(_account_tally(client, account.id))
    by_code = {m["mission_code"]: m for m in report["missions"]}
    assert set(by_code) == {"EMB-PARIS", "CG-LYON", "EMB-NAIROBI"}
    assert by_code["EMB-PARIS"]["score"] == paris.score
    assert by_code["EMB-PARIS"]["weight_total"] == paris.weight_total
    assert report["overall"]["score"] == everyone.score
    assert report["overall"]["failed"] == everyone.failed
    assert report["overall"]["not_applicable"] == everyone.not_applicable
    assert report["overall"]["accounts"] == 4
    assert report["overall"]["waived"] == 0
