"""The provenance of a run: which code, on which machine and device, from which data.

One helper for every record the library writes (the experiments' ``meta.json``, the trajectory
summaries) and for ``python -m vdlib``:

* :func:`versions` — vdlib, Python, NumPy, SciPy and torch versions;
* :func:`device_info` — ``"cuda: <GPU name>"`` or ``"cpu: <model>, <n> cores, torch threads <k>"``;
* :func:`machine` — host name and platform;
* :func:`run_metadata` — those three (and the data source, when given) as the dict a ``meta.json``
  starts from;
* :func:`describe_environment` — the run profile, versions, CUDA and threads as text
  (``python -m vdlib``, for bug reports and the GPU check);
* :func:`log` — a timestamped progress line of a long run (printed only when ``verbose``).
"""
from __future__ import annotations

import datetime
import os
import platform
import socket
from typing import Any

__all__ = ["versions", "device_info", "machine", "run_metadata", "describe_environment", "log"]


def versions() -> dict[str, str]:
    """The versions that decide a run's numbers: vdlib, python, numpy, scipy, torch."""
    import numpy as np
    import scipy
    import torch

    from ._version import __version__

    return {"vdlib": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__}


def _cpu_model() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:  # pragma: no cover - non-Linux
        pass
    return model


def device_info(device) -> str:
    """The device a run computes on: the GPU's name, or the CPU model, its cores and torch's threads."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {_cpu_model()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def machine() -> str:
    """``"<host name> (<platform>)"``."""
    return f"{socket.gethostname()} ({platform.platform()})"


def run_metadata(device, data: Any = None) -> dict[str, Any]:
    """``{"versions", "device", "machine"}`` (and ``"data"``: where the data came from, when given)."""
    meta: dict[str, Any] = {"versions": versions(), "device": device_info(device), "machine": machine()}
    if data is not None:
        meta["data"] = data
    return meta


def describe_environment() -> str:
    """The run profile and device, versions, CUDA and torch's CPU threads, one fact per line."""
    import torch

    from .config import current

    v = versions()
    lines = [
        str(current()),
        f"python {v['python']} | numpy {v['numpy']} | scipy {v['scipy']} | torch {v['torch']}",
        f"cuda available: {torch.cuda.is_available()} | torch built for CUDA: {torch.version.cuda}",
        f"cpu: {_cpu_model()}, {os.cpu_count()} cores | cpu threads used by torch: {torch.get_num_threads()}",
    ]
    if torch.cuda.is_available():
        lines += [f"gpu {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return "\n".join(lines)


def log(msg: str, verbose: bool) -> None:
    """Print ``[HH:MM:SS] msg`` (flushed) when ``verbose``: the progress lines of a long run."""
    if verbose:
        print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)
