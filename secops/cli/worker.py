"""``secops worker``: runs due jobs (server-local, like ``serve``)."""

from __future__ import annotations

import threading

import typer

from secops.cli.db import unreachable
from secops.core import migrations
from secops.core.config import load_settings
from secops.core.console import JsonOption, fail, print_json, stdout
from secops.core.logging import configure_logging
from secops.core.runtime import Runtime
from secops.worker import JobOutcome, Outcome, Worker, default_handlers, install_stop_signals


def _print_outcomes(outcomes: list[JobOutcome], as_json: bool) -> None:
    if as_json:
        print_json(
            [
                {
                    "job_id": str(o.job_id),
                    "kind": o.kind,
                    "attempt": o.attempt,
                    "status": o.status,
                    "error": o.error,
                    "next_run_at": o.next_run_at.isoformat() if o.next_run_at else None,
                }
                for o in outcomes
            ]
        )
        return
    for o in outcomes:
        line = f"{o.status:<10} {o.kind:<22} {o.job_id} (attempt {o.attempt})"
        if o.next_run_at is not None:
            line += f", retry at {o.next_run_at:%Y-%m-%d %H:%M:%S} UTC"
        stdout.print(line, markup=False, highlight=False)
        if o.error:
            stdout.print(f"           {o.error}", markup=False, highlight=False)
    done = sum(1 for o in outcomes if o.status is Outcome.DONE)
    stdout.print(f"ran {len(outcomes)} jobs: {done} done, {len(outcomes) - done} not done")


def register(app: typer.Typer) -> None:
    """Add ``secops worker`` to the root CLI."""

    @app.command("worker")
    def worker(
        once: bool = typer.Option(
            False, "--once", help="Run the jobs due now, then exit (for cron or a check)."
        ),
        worker_id: str | None = typer.Option(
            None, "--worker-id", help="Name this worker in leases and logs (default host:pid)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Run background jobs: scheduled evaluations, waiver warnings, checkpoints, mail.

        Several workers may share one PostgreSQL database; no job runs twice. SIGTERM or
        Ctrl-C stops the worker after the job it is running.
        """
        settings = load_settings()
        runtime = Runtime.build(settings)
        try:
            state = migrations.migration_state(runtime.engine)
            if not state.reachable:
                fail(unreachable(settings))
            if not state.current:
                fail("the database is not at the newest migration; run `secops db upgrade` first")
            configure_logging(fmt=settings.effective_log_format, level=settings.log_level)
            job_worker = Worker(runtime.sessions, settings, default_handlers(settings))
            if worker_id:
                job_worker.worker_id = worker_id
            stop = threading.Event()
            install_stop_signals(stop)
            if once:
                _print_outcomes(job_worker.run_once(stop), as_json)
            else:
                job_worker.run_forever(stop)
        finally:
            runtime.dispose()
