"""Time-driven work: APScheduler 3 runs each job of bot/delivery/jobs.py on its interval.

Every `quorum serve` process runs the same scheduler. Two things make that safe:
- **Once per tick.** Time is cut into ticks of each job's interval; before running, a
  process inserts (job, tick) into `scheduler_lock`. The primary key lets exactly one
  insert win, so the job runs once per tick across all processes.
- **Nothing to lose on restart.** The jobs are deterministic and re-registered at start
  (`replace_existing=True`) in APScheduler's in-memory store; what they act on
  (assignments, due times, reminder counts, digest keys) lives in the database, so a
  restarted or replaced process picks up exactly where the last run left off. A
  SQLAlchemyJobStore is deliberately not used: APScheduler 3 does not support several
  schedulers sharing one job store (duplicate or missed runs).

Jobs read time from the context clock; tests call `run_due_jobs(ctx, now)` directly
under a FrozenClock instead of waiting for APScheduler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.jobs import JOBS, ScheduledJob
from bot.runtime.context import QuorumContext
from storage import schedule_queries
from storage.db import session_scope

log = logging.getLogger(__name__)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # ticks are aligned to this, in every process


def tick_of(job: ScheduledJob, now: datetime) -> str:
    """The start of the tick `now` falls in, e.g. 2026-01-05T09:05:00 for a 5-minute job."""
    every = job.every.total_seconds()
    index = int((now - EPOCH).total_seconds() // every)
    start = EPOCH.timestamp() + index * every
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def claim(ctx: QuorumContext, job: ScheduledJob, now: datetime, owner: str) -> bool:
    """True when this process won (job, tick), committed before the job starts."""
    with session_scope(ctx.engine) as session:
        return schedule_queries.claim_tick(
            session, job=job.name, tick=tick_of(job, now), owner=owner, now=now
        )


def run_job(ctx: QuorumContext, job: ScheduledJob, now: datetime, *, owner: str) -> int | None:
    """Run `job` for the tick of `now` unless another process already did: the count of
    what it did, or None when skipped. A job that fails is logged; its next tick is a
    fresh sweep."""
    if not claim(ctx, job, now, owner):
        return None
    try:
        done = job.run(ctx, now)
    except Exception:
        log.exception("scheduled job %s failed", job.name)
        return 0
    if done:
        log.info("scheduled job %s: %s done", job.name, done)
    return done


def run_due_jobs(
    ctx: QuorumContext,
    now: datetime | None = None,
    *,
    only: Iterable[str] | None = None,
    owner: str | None = None,
) -> dict[str, int | None]:
    """Run every job (or those named in `only`) for the tick of `now`, as the scheduler
    would; name -> count, or None when that tick had already run."""
    now = now or ctx.clock.now()
    wanted = set(only) if only is not None else None
    owner = owner or f"direct-{uuid.uuid4().hex[:8]}"
    return {
        job.name: run_job(ctx, job, now, owner=owner)
        for job in JOBS
        if wanted is None or job.name in wanted
    }


class QuorumScheduler:
    """APScheduler's BackgroundScheduler with Quorum's jobs, aligned to the shared ticks."""

    def __init__(self, ctx: QuorumContext, jobs: Iterable[ScheduledJob] = JOBS) -> None:
        self.ctx = ctx
        self.jobs = {job.name: job for job in jobs}
        self.owner = f"scheduler-{uuid.uuid4().hex[:8]}"
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

    def start(self) -> None:
        for job in self.jobs.values():
            self.scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=job.every.total_seconds(), start_date=EPOCH, timezone=UTC),
                args=[job.name],
                id=job.name,
                name=job.name,
                replace_existing=True,
            )
        self.scheduler.start()

    def _run(self, name: str) -> None:
        run_job(self.ctx, self.jobs[name], self.ctx.clock.now(), owner=self.owner)

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def shutdown(self, *, wait: bool = True) -> None:
        """Start no new job; with `wait`, let a running one finish."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
