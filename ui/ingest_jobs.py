"""Policy uploads off the page's request path: one worker thread re-indexes, the page polls the job's progress."""
from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

log = logging.getLogger(__name__)

_lock = threading.Lock()
_jobs: dict[str, "Job"] = {}
_executor: ThreadPoolExecutor | None = None


@dataclass
class Job:
    """One upload: the stage it is at, the share done (0-1), and the UploadResult as a dict when finished."""

    stage: str = "Waiting for another upload to finish"
    fraction: float = 0.0
    result: dict | None = None


def _worker() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # One worker: uploads write the same index, so they run one after another.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-ingest")
        return _executor


def start(store, filename: str, data: bytes, **kwargs) -> str:
    """Queue an upload (ui.policy_admin.upload_policy) and return the job's id for `status`."""
    from ui.policy_admin import upload_policy  # noqa: PLC0415

    job_id = secrets.token_urlsafe(16)
    job = Job()
    with _lock:
        _jobs[job_id] = job

    def progress(stage: str, fraction: float) -> None:
        job.stage, job.fraction = stage, max(0.0, min(1.0, fraction))

    def run() -> None:
        try:
            job.result = upload_policy(store, filename, data, on_progress=progress, **kwargs).__dict__
        except Exception:
            log.exception("policy upload job failed")
            job.result = {"ok": False, "message": "The upload failed, so nothing was changed. The details are in "
                                                  "the server log."}
        job.fraction = 1.0

    _worker().submit(run)
    return job_id


def status(job_id: str) -> Job | None:
    """The job with this id, or None if this process never started it (e.g. after a restart)."""
    with _lock:
        return _jobs.get(job_id)


def forget(job_id: str) -> None:
    """Drop a finished job once its result has been shown."""
    with _lock:
        _jobs.pop(job_id, None)
