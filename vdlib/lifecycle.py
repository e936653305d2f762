"""The life of a long run's processes: a worker stops when its parent has gone, and one run at a time
writes into an output folder.

* :func:`watch_parent` starts a daemon thread in a worker process that polls ``os.getppid()``; when
  the parent that started the worker is gone (SIGKILL, SIGTERM, ``docker stop``, Slurm's cancel) the
  worker exits within ``interval`` seconds instead of writing on into records a resumed run now owns.
* :class:`RunLock` holds an exclusive ``flock`` on ``FOLDER/.vdlib.lock`` for the whole run; a second
  run on the same folder is refused with :class:`FolderInUse`, naming the process that holds it. The
  kernel drops the lock when its holder dies, even by SIGKILL, so a killed run never leaves a stale lock.

Used by: vdlib.deep.chains.run, vdlib.experiments (every command that writes a run folder).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

__all__ = ["watch_parent", "RunLock", "FolderInUse", "LOCK_FILE", "PARENT_GONE_EXIT"]

#: The lock's file name inside a run folder.
LOCK_FILE = ".vdlib.lock"
#: The exit status of a worker that stopped because its parent had gone (EX_SOFTWARE of sysexits.h).
PARENT_GONE_EXIT = 70

_watcher: threading.Thread | None = None


def watch_parent(parent_pid: int | None = None, interval: float = 0.5) -> threading.Thread:
    """Exit this process (status :data:`PARENT_GONE_EXIT`) within ``interval`` s of its parent's death.

    ``parent_pid`` is the process that must stay alive (default: the current parent). Once per process;
    later calls return the running watcher. Only for worker processes: never call it in a notebook.
    """
    global _watcher
    if _watcher is not None and _watcher.is_alive():
        return _watcher
    parent = os.getppid() if parent_pid is None else int(parent_pid)
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")

    def watch() -> None:
        while os.getppid() == parent:  # once re-parented (to init or a subreaper), the parent has died
            time.sleep(interval)
        print(f"[vdlib] pid {os.getpid()}: parent process {parent} has gone; stopping this worker "
              "(resume the run from its last checkpoint)", file=sys.stderr, flush=True)
        os._exit(PARENT_GONE_EXIT)

    if os.getppid() != parent:
        watch()
    _watcher = threading.Thread(target=watch, name="vdlib-watch-parent", daemon=True)
    _watcher.start()
    return _watcher


class FolderInUse(RuntimeError):
    """Another live process holds the run lock of this folder."""


class RunLock:
    """An exclusive lock on a run folder (``with RunLock(folder): ...``), refused while another process holds it.

    Creates ``folder`` if needed. The lock file records the holder's pid, command and start time, so the
    refusal can say who holds it. Re-entrant within one process (nested ``with`` on the same folder).
    """

    _held: dict[str, list] = {}

    def __init__(self, folder, what: str = "run", name: str = LOCK_FILE):
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"name must be a plain file name, got {name!r}")
        self.folder = Path(folder)
        self.what = what
        self.name = name

    @property
    def path(self) -> Path:
        return self.folder / self.name

    def acquire(self) -> "RunLock":
        import fcntl

        key = str(self.path.resolve()) if self.folder.exists() else str(self.path.absolute())
        held = RunLock._held.get(key)
        if held is not None:
            held[1] += 1
            self._key = key
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                who = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except (ValueError, OSError):
                who = {}
            os.close(fd)
            holder = (f"pid {who.get('pid')} ({who.get('what', 'a run')}, started {who.get('started', '?')}, "
                      f"command {who.get('command', '?')!r})" if who else "another process")
            raise FolderInUse(f"{self.folder} is in use by {holder}: a second writer would corrupt its records. "
                              "Wait for that run to end (or stop it), or choose another output folder") from None
        info = {"pid": os.getpid(), "what": self.what, "command": " ".join(sys.argv),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._key = key
        RunLock._held[key] = [fd, 1]
        return self

    def release(self) -> None:
        key = getattr(self, "_key", None)
        held = RunLock._held.get(key) if key else None
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del RunLock._held[key]
            os.close(held[0])  # closing the descriptor drops the flock
        self._key = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
