"""Input checks shared by the library; every message says what to change."""
from __future__ import annotations

import math
import numbers


def integer(value, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``; bools and floats (even 2.0) are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def batch_size(b, N=None, replacement: bool = True) -> int:
    """A mini-batch size: an integer >= 1 and, without replacement, at most the dataset size ``N``."""
    b = integer(b, "batch size b")
    if N is not None:
        N = integer(N, "dataset size N")
        if not replacement and b > N:
            raise ValueError(
                f"batch size b={b} is larger than the dataset: it exceeds the dataset size N={N}, and without "
                "replacement a batch holds at most N examples; use b <= N or replacement=True"
            )
    return b


def positive(value, name: str) -> float:
    """A positive finite real number (``name`` goes into the error message)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}; use {name} > 0")
    return value


def learning_rate(eta) -> float:
    """A learning rate: a positive finite real number."""
    return positive(eta, "learning rate eta")
