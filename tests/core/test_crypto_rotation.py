"""Key rotation without downtime: KEK rewrap, DEK re-encryption, and both under live traffic."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from fastapi import FastAPI
from sqlmodel import Session, select

from secops.core import keyrotation
from secops.core.config import Settings
from secops.core.db import SessionFactory
from secops.core.keyring import (
    DataKey,
    DataKeyStatus,
    Keyring,
    KeyUnavailable,
    kek_id_of,
    read_key_file,
)
from secops.core.keyrotation import RotationStep
from secops.core.runtime import Runtime
from tests.factories.crypto import fill, get, open_blob, put, raw, read_all, registered_vault


@dataclass
class Steps:
    """A step recorder that keeps what it was handed."""

    taken: list[RotationStep] = field(default_factory=list)

    def __call__(self, session: Session, step: RotationStep) -> None:
        assert session.in_transaction()
        self.taken.append(step)

    def actions(self) -> list[str]:
        return [s.action for s in self.taken]


@pytest.fixture
def vault_sessions(app: FastAPI, sessions: SessionFactory) -> Iterator[SessionFactory]:
    """The app's sessions with the test vault table created and registered."""
    with registered_vault(app.state.engine):
        yield sessions


@pytest.fixture
def other_process(settings: Settings) -> Iterator[Runtime]:
    """A second runtime on the same database and key file: its own engine and key cache."""
    runtime = Runtime.build(settings)
    yield runtime
    runtime.dispose()


Rows = list[tuple[uuid.UUID, str, str | None]]


def _rows(count: int) -> Rows:
    return [
        (uuid.uuid4(), f"secret-{i}", None if i % 3 == 0 else f"note-{i}") for i in range(count)
    ]


def _status(sessions: SessionFactory) -> keyrotation.KeyStatus:
    with sessions.begin() as session:
        return keyrotation.key_status(session)


def _expected(rows: Rows) -> dict[uuid.UUID, tuple[str, str | None]]:
    return {row_id: (secret, note) for row_id, secret, note in rows}


# -- DEK rotation ----------------------------------------------------------------------------------


def test_dek_rotation_reencrypts_every_value_and_retires_the_old_key(
    vault_sessions: SessionFactory,
) -> None:
    rows = _rows(23)
    fill(vault_sessions, rows)
    before = _status(vault_sessions)
    (old,) = before.data_keys
    steps = Steps()

    outcome = keyrotation.rotate_dek(vault_sessions, on_step=steps, batch_size=5)

    after = {k.id: k for k in _status(vault_sessions).data_keys}
    assert old.values == 23 + 15  # secrets plus the non-null notes
    assert outcome.previous_key_ids == [old.id]
    assert outcome.reencrypted == 38
    assert outcome.retired == [old.id]
    assert after[old.id].status == DataKeyStatus.RETIRED
    assert after[old.id].values == 0
    assert after[outcome.new_key_id].status == DataKeyStatus.PRIMARY
    assert after[outcome.new_key_id].values == 38
    assert read_all(vault_sessions) == _expected(rows)
    assert steps.actions()[0] == "keys.rotate_dek"
    assert steps.actions()[-1] == "keys.retire_dek"
    assert steps.actions().count("keys.reencrypt") == 5 + 3  # 23 secrets, 15 notes, 5 a batch
    assert sum(s.details.get("values", 0) for s in steps.taken) == 38


def test_dek_rotation_on_an_empty_database_makes_a_primary_and_retires_nothing(
    vault_sessions: SessionFactory,
) -> None:
    outcome = keyrotation.rotate_dek(vault_sessions, on_step=Steps())

    (key,) = _status(vault_sessions).data_keys
    assert key.id == outcome.new_key_id
    assert key.status == DataKeyStatus.PRIMARY
    assert outcome.reencrypted == 0
    assert outcome.retired == []


def test_rerun_picks_up_values_left_under_an_active_key(vault_sessions: SessionFactory) -> None:
    rows = _rows(6)
    fill(vault_sessions, rows)
    first = keyrotation.rotate_dek(vault_sessions, on_step=Steps())
    # An interrupted rotation: the key switched, nothing re-encrypted yet.
    with vault_sessions.begin() as session:
        newest = session.get(DataKey, first.new_key_id)
        assert newest is not None
        newest.status = DataKeyStatus.ACTIVE
        session.flush()
        session.info["keyring"].create_data_key(session, status=DataKeyStatus.PRIMARY)

    second = keyrotation.rotate_dek(vault_sessions, on_step=Steps())

    statuses = {k.id: (k.status, k.values) for k in _status(vault_sessions).data_keys}
    assert statuses[first.new_key_id] == (DataKeyStatus.RETIRED, 0)
    assert statuses[second.new_key_id] == (DataKeyStatus.PRIMARY, 10)
    assert set(second.retired) == {first.new_key_id, *second.previous_key_ids}
    assert read_all(vault_sessions) == _expected(rows)


def test_blob_read_before_reencryption_still_decrypts_after_rotation(
    vault_sessions: SessionFactory,
) -> None:
    rows = _rows(2)
    fill(vault_sessions, rows)
    row_id, secret, _ = rows[0]
    with vault_sessions.begin() as session:
        held = raw(session, row_id)  # a reader fetched the row just before the rotation

    keyrotation.rotate_dek(vault_sessions, on_step=Steps())

    with vault_sessions.begin() as session:
        assert raw(session, row_id) != held
        assert open_blob(session, row_id, held or b"") == secret
    assert _status(vault_sessions).unreadable_values == 0


# -- KEK rotation ----------------------------------------------------------------------------------


def test_kek_rotation_rewraps_every_data_key_and_values_still_decrypt(
    vault_sessions: SessionFactory, settings: Settings
) -> None:
    rows = _rows(8)
    fill(vault_sessions, rows)
    keyrotation.rotate_dek(vault_sessions, on_step=Steps())
    old_kek = read_key_file(settings.effective_kek_file)
    steps = Steps()

    outcome = keyrotation.rotate_kek(vault_sessions, on_step=steps)

    new_kek = read_key_file(settings.effective_kek_file)
    assert outcome.previous_kek_id == kek_id_of(old_kek) != outcome.kek_id == kek_id_of(new_kek)
    assert outcome.rewrapped == 2
    assert outcome.removed_kek_ids == [kek_id_of(old_kek)]
    assert list(settings.effective_kek_file.parent.glob("kek.key.*")) == []
    assert settings.effective_kek_file.stat().st_mode & 0o777 == 0o600
    assert steps.actions() == ["keys.rotate_kek"]
    fresh = Runtime.build(settings)  # a new process: nothing cached, only the new KEK on disk
    try:
        with fresh.sessions.begin() as session:
            assert {k.kek_id for k in session.exec(select(DataKey)).all()} == {outcome.kek_id}
        assert read_all(fresh.sessions) == _expected(rows)
        assert _status(fresh.sessions).kek_id == outcome.kek_id
    finally:
        fresh.dispose()


def test_failed_kek_rotation_leaves_values_readable_and_can_be_rerun(
    vault_sessions: SessionFactory, settings: Settings
) -> None:
    rows = _rows(3)
    fill(vault_sessions, rows)
    original = kek_id_of(read_key_file(settings.effective_kek_file))

    def crash(session: Session, step: RotationStep) -> None:
        raise RuntimeError("the audit write failed")

    with pytest.raises(RuntimeError):
        keyrotation.rotate_kek(vault_sessions, on_step=crash)

    middle = Runtime.build(settings)  # restarted after the crash
    try:
        assert read_all(middle.sessions) == _expected(rows)
        assert _status(middle.sessions).previous_kek_ids == [original]
        outcome = keyrotation.rotate_kek(middle.sessions, on_step=Steps())
    finally:
        middle.dispose()
    assert original in outcome.removed_kek_ids
    assert list(settings.effective_kek_file.parent.glob("kek.key.*.old")) == []
    fresh = Runtime.build(settings)
    try:
        assert read_all(fresh.sessions) == _expected(rows)
    finally:
        fresh.dispose()


def test_old_kek_alone_no_longer_opens_the_data_keys_after_rotation(
    vault_sessions: SessionFactory, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fill(vault_sessions, _rows(1))
    old_kek = read_key_file(settings.effective_kek_file)
    keyrotation.rotate_kek(vault_sessions, on_step=Steps())
    stolen = tmp_path_factory.mktemp("stolen") / "kek.key"
    stolen.write_bytes(old_kek)
    stolen.chmod(0o600)

    with vault_sessions.begin() as session:
        key = session.exec(select(DataKey)).one()
    with pytest.raises(KeyUnavailable, match="kek_missing"):
        Keyring(stolen).unwrap(key.kek_id, key.wrapped_key)
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap(old_kek, key.wrapped_key)


# -- rotation under load ---------------------------------------------------------------------------


class Traffic:
    """Interleaves the workers with the rotation: each rotation step lets each worker write once.

    SQLite hands its lock to whoever retries first, so free-running threads can starve the
    rotation or the other way round; taking turns keeps the test fast and the overlap certain.
    """

    def __init__(self) -> None:
        self.writes = 0
        self.steps = 0
        self.interleaved = 0
        self.done = False
        self._changed = threading.Condition()

    def wrote(self, seen_steps: int) -> int:
        """Count a committed write, then wait for the rotation's next step (or its end)."""
        with self._changed:
            self.writes += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.steps > seen_steps or self.done, timeout=30)
            return self.steps

    def rotation_step(self, _reencrypted: int = 0) -> None:
        """Between rotation transactions: release the workers and wait for a write."""
        with self._changed:
            self.steps += 1
            target = self.writes + 1
            self._changed.notify_all()
            if self._changed.wait_for(lambda: self.writes >= target, timeout=30):
                self.interleaved += 1

    def finish(self) -> None:
        """The rotation is over: workers run freely to the end of their loop."""
        with self._changed:
            self.done = True
            self._changed.notify_all()


@dataclass
class Worker:
    """One thread that keeps reading and rewriting its own rows until told to stop."""

    index: int
    sessions: SessionFactory
    rows: list[uuid.UUID]
    others: list[uuid.UUID]
    stop: threading.Event
    traffic: Traffic
    expected: dict[uuid.UUID, str] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    iterations: int = 0
    seen_steps: int = 0

    MIN_ITERATIONS = 15
    MAX_ITERATIONS = 3000

    def run(self, start: threading.Barrier) -> None:
        try:
            start.wait(timeout=30)
            while self.iterations < self.MAX_ITERATIONS and not (
                self.stop.is_set() and self.iterations >= self.MIN_ITERATIONS
            ):
                self._step()
        except BaseException as exc:  # collected; the test asserts there are none
            self.errors.append(exc)

    def _step(self) -> None:
        row_id = self.rows[self.iterations % len(self.rows)]
        other = self.others[self.iterations % len(self.others)]
        value = f"w{self.index}-i{self.iterations}"
        with self.sessions.begin() as session:
            if get(session, row_id) != self.expected[row_id]:
                raise AssertionError(f"row {row_id} lost a write")
            get(session, other)  # someone else's row: must decrypt, value may move on
            put(session, row_id, secret=value)
        self.expected[row_id] = value
        self.iterations += 1
        self.seen_steps = self.traffic.wrote(self.seen_steps)


def test_rotation_under_four_reading_and_writing_threads_loses_nothing(
    vault_sessions: SessionFactory, other_process: Runtime, settings: Settings
) -> None:
    rows = _rows(40)
    fill(vault_sessions, rows)
    ids = [r[0] for r in rows]
    stop, traffic = threading.Event(), Traffic()
    # Two threads share the app's key cache, two use another "process" with its own.
    workers = [
        Worker(
            index=i,
            sessions=vault_sessions if i < 2 else other_process.sessions,
            rows=ids[i * 10 : (i + 1) * 10],
            others=ids[((i + 1) % 4) * 10 : ((i + 1) % 4 + 1) * 10],
            stop=stop,
            traffic=traffic,
            expected={r[0]: r[1] for r in rows[i * 10 : (i + 1) * 10]},
        )
        for i in range(4)
    ]
    start = threading.Barrier(5)
    threads = [threading.Thread(target=w.run, args=(start,)) for w in workers]
    for thread in threads:
        thread.start()
    rotator = Runtime.build(settings)  # the `secops keys` process
    try:
        start.wait(timeout=30)
        # Workers write between the batches, while the old and the new key are both live.
        first = keyrotation.rotate_dek(
            rotator.sessions, on_step=Steps(), batch_size=4, progress=traffic.rotation_step
        )
        traffic.rotation_step()
        kek = keyrotation.rotate_kek(rotator.sessions, on_step=Steps())
        traffic.rotation_step()
        second = keyrotation.rotate_dek(
            rotator.sessions, on_step=Steps(), batch_size=4, progress=traffic.rotation_step
        )
    finally:
        stop.set()
        traffic.finish()
        for thread in threads:
            thread.join(timeout=120)
        rotator.dispose()

    assert [e for w in workers for e in w.errors] == []
    assert all(w.iterations >= Worker.MIN_ITERATIONS for w in workers)
    assert traffic.interleaved >= 4  # at least one batch of each DEK rotation, and the KEK
    stored = read_all(vault_sessions)
    for worker in workers:
        for row_id, value in worker.expected.items():
            assert stored[row_id][0] == value
    status = {k.id: k for k in _status(vault_sessions).data_keys}
    assert status[second.new_key_id].status == DataKeyStatus.PRIMARY
    assert status[second.new_key_id].values == sum(
        v is not None for s in stored.values() for v in s
    )
    assert status[first.new_key_id].status == DataKeyStatus.RETIRED
    assert all(k.values == 0 for k in status.values() if k.id != second.new_key_id)
    assert {k.kek_id for k in status.values()} == {kek.kek_id}
