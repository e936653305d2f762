"""Dask clusters for the experiments: a local cluster of worker processes by default, or any running Dask
cluster (Slurm through dask-jobqueue, a few GPU boxes) named by its scheduler's address or scheduler file.

The experiments' tasks run in Dask workers, one task at a time per worker (one Dask thread each; the
torch threads of a task are set by the task itself). Dask's nanny restarts a worker that dies and the
scheduler runs its task again (up to ``distributed.scheduler.allowed-failures`` times, 3 by default),
so a task must be resumable from what it wrote: every task of vdlib is.

A worker process of a local cluster exits when the client process that started it dies, even by
SIGKILL (distributed's ``AsyncProcess`` keeps a pipe to its parent and exits at its end of file);
:func:`task_started` adds :func:`vdlib.lifecycle.watch_parent` in each task as a second guard.

Only this module, :mod:`vdlib.experiments.sweep` and the trajectory scheduler import ``distributed``
(the optional extra ``vdlib[sweep]``); the book never does.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

__all__ = ["SchedulerUnreachable", "DistributedMissing", "connect", "default_workers", "task_started", "dashboard_link",
           "completed", "WorkersLost", "TEST_KILL_ENV"]


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the address (or scheduler file) given."""


class WorkersLost(RuntimeError):
    """A local cluster has had no worker for a while, with tasks still to run (a nanny that could not restart one)."""


class DistributedMissing(ImportError):
    """Dask's ``distributed`` package is not installed."""


def require_distributed():
    """The ``distributed`` module, or an error that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise DistributedMissing("running experiments as Dask tasks needs dask and distributed: "
                                 "pip install 'vdlib[sweep]' (or pip install dask distributed)") from None
    return distributed


def default_workers(threads_per_task: int = 1) -> int:
    """Workers of a local cluster when none are asked for: CPU cores / threads per task (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, int(threads_per_task)))


def dashboard_link(client) -> str | None:
    """The address of Dask's dashboard for ``client``'s cluster, or None when it cannot draw one (bokeh,
    which draws it, is missing here)."""
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:
        return None
    return client.dashboard_link if "dashboard" in client.scheduler_info().get("services", {}) else None


#: Dask settings of the local cluster's workers (give the same to the workers of a cluster of your own:
#: ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False dask worker ...``).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def connect(workers: int | None = None, *, scheduler: str | None = None, scheduler_file=None,
            resources: dict[str, float] | None = None, timeout: float = 10.0, quiet: bool = True):
    """A :class:`distributed.Client`: on a new local cluster of ``workers`` processes (one task at a time
    each), or on the running cluster at ``scheduler`` (``tcp://host:8786``) or in ``scheduler_file``.

    ``resources`` (e.g. ``{"GPU": 1}``) are given to each local worker; on a cluster of your own, start
    the workers with ``--resources GPU=1``. An unreachable scheduler raises :class:`SchedulerUnreachable`
    within ``timeout`` seconds, before any task is sent. The local cluster is closed on exit.
    """
    require_distributed()
    from distributed import Client, LocalCluster

    if scheduler is not None and scheduler_file is not None:
        raise ValueError("give a scheduler address or a scheduler file, not both")
    if scheduler is not None or scheduler_file is not None:
        where = scheduler if scheduler is not None else f"the scheduler file {scheduler_file}"
        if scheduler_file is not None and not Path(scheduler_file).is_file():
            raise SchedulerUnreachable(f"the scheduler file {scheduler_file} does not exist: start the scheduler "
                                       f"with `dask scheduler --scheduler-file {scheduler_file}` first, or fix the path")
        try:
            client = Client(address=scheduler, scheduler_file=None if scheduler_file is None else str(scheduler_file),
                            timeout=timeout)
        except (OSError, TimeoutError, ValueError) as err:
            raise SchedulerUnreachable(
                f"no Dask scheduler answered at {where} within {timeout:g} s ({type(err).__name__}: {err}). "
                "Start one (`dask scheduler`, or a dask-jobqueue cluster), check the address, or leave out "
                "--scheduler to run on a local cluster") from None
        try:
            yield client
        finally:
            client.close()
        return
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    kwargs = dict(n_workers=workers, threads_per_worker=1, processes=True, resources=resources,
                  dashboard_address=":0")  # a free port: two sweeps on one machine do not collide
    if quiet:
        kwargs["silence_logs"] = logging.CRITICAL  # failed tasks are reported by the caller, with their traceback
    import dask

    # Dask's statistical profiler takes the interpreter lock from the task's thread every 10 ms to
    # read its stack; the experiments are mostly per-step Python work, and a pure-Python loop ran
    # about 20 % faster in a worker without it on this 2-core machine. The workers inherit this
    # setting from here.
    with dask.config.set(WORKER_CONFIG), LocalCluster(**kwargs) as cluster, Client(cluster) as client:
        yield client


def task_started(threads: int = 1) -> None:
    """Call first in a task that runs in a Dask worker: exit the worker if its parent dies (see the
    module docstring) and set torch's CPU threads to ``threads``."""
    import torch

    from ..lifecycle import watch_parent

    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        pass  # not in a Dask worker (a task called directly): no parent to watch
    else:
        watch_parent()
    torch.set_num_threads(int(threads))


#: Test-only hook, never set for real runs. When this environment variable names a folder, the first
#: attempt of each task that supports it runs part of its work (checkpointed), leaves a marker file
#: in that folder and SIGKILLs its own worker process; Dask's nanny restarts the worker and the
#: scheduler runs the task again, which resumes from the checkpoint. tests/test_sweep.py uses it to
#: show that a task killed midway ends with the records of an uninterrupted run.
TEST_KILL_ENV = "VDLIB_TEST_KILL_TASK_ONCE"


def kill_this_worker_once(tag: str, first_part) -> None:
    """Test-only (:data:`TEST_KILL_ENV`): on the first attempt of the task ``tag``, call ``first_part()``,
    leave a marker and SIGKILL this process; later attempts return at once."""
    import signal

    folder = os.environ.get(TEST_KILL_ENV)
    if not folder:
        return
    marker = Path(folder) / f"killed-{tag}"
    if marker.exists():
        return
    first_part()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


def completed(client, futures, patience: float = 120.0):
    """Yield ``futures`` as they finish, like :func:`distributed.as_completed`, but raise :class:`WorkersLost`
    when the client's local cluster has had no worker for ``patience`` seconds while some are pending
    (a worker that died and was not restarted would otherwise leave the caller waiting for ever). A
    cluster of your own (no ``client.cluster``) may scale to zero and back: it is not checked."""
    from distributed import wait

    pending = list(futures)
    alone_since = None
    while pending:
        try:
            wait(pending, timeout=2.0, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass
        done = [f for f in pending if f.done()]
        pending = [f for f in pending if not f.done()]
        yield from done
        if pending and client.cluster is not None and not client.scheduler_info().get("workers"):
            alone_since = alone_since if alone_since is not None else time.monotonic()
            if time.monotonic() - alone_since > patience:
                client.cancel(pending)
                raise WorkersLost(f"the local cluster has had no worker for {patience:g} s with {len(pending)} "
                                  "task(s) left (a worker died and was not restarted); run the same command "
                                  "again: finished work is kept")
        else:
            alone_since = None
