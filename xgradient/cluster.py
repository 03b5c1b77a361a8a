"""The cluster a job runs on, and how it reports progress.

Either a ``distributed.LocalCluster`` started for the job (sized to the
machine, or as asked) and shut down after it, or a running scheduler the
job connects to (dask-jobqueue, dask-gateway, Kubernetes: any
``distributed`` scheduler), which is never shut down: the job only closes
its own client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .job import IO_EXTRA, JobError, format_bytes

__all__ = ["ClusterSpec", "ProgressDisplay", "connect"]


@dataclass(frozen=True)
class ClusterSpec:
    """Where a job runs: a scheduler address, or the shape of a local cluster."""

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: int | None = None

    def local_shape(self) -> tuple[int, int, int]:
        """``(workers, threads per worker, memory limit per worker)`` of the local cluster.

        The defaults are ``LocalCluster``'s own: processes and threads that
        share the machine's cores, and the machine's memory split evenly.
        """
        from dask.system import CPU_COUNT

        try:
            from distributed.deploy.utils import nprocesses_nthreads
            from distributed.system import MEMORY_LIMIT
        except ImportError:
            raise JobError(f"running a job needs dask.distributed; {IO_EXTRA}") from None

        workers, threads = nprocesses_nthreads(CPU_COUNT)
        workers = self.workers or (
            max(1, CPU_COUNT // self.threads_per_worker) if self.threads_per_worker else workers
        )
        threads = self.threads_per_worker or max(1, CPU_COUNT // workers)
        memory = self.memory_limit or MEMORY_LIMIT // workers
        return workers, threads, memory


@contextlib.contextmanager
def connect(spec: ClusterSpec, log: TextIO | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for the job; the cluster is closed only if started here."""
    log = log or sys.stderr
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise JobError(f"running a job needs dask.distributed; {IO_EXTRA}") from None
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if spec.scheduler is not None:
        try:
            client = Client(spec.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            raise JobError(f"cannot reach the scheduler at {spec.scheduler!r}: {err}") from None
        with client:
            workers = len(client.scheduler_info()["workers"])
            print(f"xgradient: connected to {spec.scheduler} ({workers} workers)", file=log)
            yield client
        return
    workers, threads, memory = spec.local_shape()
    with warnings.catch_warnings(), _children_ignore_sigint(), _quiet_children():
        warnings.filterwarnings("ignore", message="Port 8787 is already in use")
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            memory_limit=memory,
            processes=True,
            # The usual port when there is a dashboard to show; otherwise any
            # free port, which never collides with another cluster's.
            dashboard_address=":8787" if _has_bokeh() else ":0",
        )
    with cluster, Client(cluster) as client:
        print(
            f"xgradient: local cluster of {workers} worker(s) x {threads} thread(s), "
            f"{format_bytes(memory)} each; dashboard: {_dashboard(cluster)}",
            file=log,
        )
        yield client


@contextlib.contextmanager
def _quiet_children() -> Iterator[None]:
    """Start processes whose ``distributed`` logs only errors.

    Worker and nanny processes configure their logging when they import
    ``distributed``, from the environment they inherit; at the default level
    a worker that loses its scheduler while the job shuts down (Ctrl-C, a
    failed task) logs a traceback into the job's output.
    """
    key = "DASK_LOGGING__DISTRIBUTED"
    previous = os.environ.get(key)
    os.environ[key] = "error"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[key]
        else:
            os.environ[key] = previous


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Start processes that ignore Ctrl-C: the job's own process stops them.

    Ctrl-C in a terminal signals the whole process group; worker processes
    that took it would each print a traceback while the job shuts down.  An
    ignored SIGINT is inherited, and Python keeps it ignored at start-up.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _dashboard(cluster: Any) -> str:
    if not _has_bokeh():
        return "none (pip install bokeh for the dashboard)"
    return str(cluster.dashboard_link)


def worker_memory(client: Any) -> tuple[int, int, int]:
    """``(smallest memory limit, most threads, all threads)`` of the client's workers."""
    info = client.scheduler_info()["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in info] or [0]
    threads = [w.get("nthreads") or 1 for w in info] or [1]
    return min(limits), max(threads), sum(threads)


class ProgressDisplay:
    """Progress of a job on ``stream``: a bar on a terminal, log lines otherwise.

    On a terminal the bar is redrawn in place as regions finish; in a batch
    log (stderr redirected to a file) a plain line is written at most every
    ``interval`` seconds, and at the end, so logs stay readable.

    Examples
    --------
    >>> import io
    >>> log = io.StringIO()
    >>> show = ProgressDisplay(log, interval=0)
    >>> show(1, 4, 2**20, 4 * 2**20); show(4, 4, 4 * 2**20, 4 * 2**20)
    >>> print(log.getvalue().splitlines()[-1].split(" after")[0])
    xgradient: 100% (4/4 regions, 4.00 MiB of 4.00 MiB)
    """

    def __init__(self, stream: TextIO | None = None, *, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.start = time.perf_counter()
        self.last = -float("inf")

    def __call__(self, done: int, total: int, nbytes: int, total_bytes: int) -> None:
        now = time.perf_counter()
        fraction = done / total if total else 1.0
        wall = now - self.start
        amount = f"{format_bytes(nbytes)} of {format_bytes(total_bytes)}"
        if self.tty:
            bar = "#" * int(30 * fraction)
            self.stream.write(
                f"\r[{bar:<30}] {fraction:4.0%} {done}/{total} regions, {amount}, {wall:.1f} s "
            )
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif done == total or now - self.last >= self.interval:
            self.last = now
            print(
                f"xgradient: {fraction:.0%} ({done}/{total} regions, {amount}) after {wall:.1f} s",
                file=self.stream,
                flush=True,
            )
