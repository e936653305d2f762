"""A sweep's spec: which experiment, the grid of parameters (one task per grid point), fixed parameters,
the output folder; read from TOML or YAML and checked before any task starts.

TOML (YAML has the same keys)::

    experiment = "trajectory"          # or "steady-state"
    out = "artifacts/sweeps/lr"        # relative to the current folder
    profile = "ci"                     # sizes of the profile (default: $VDLIB_PROFILE, else book)
    threads = 1                        # torch CPU threads per task (default 1)
    resources = {GPU = 1}              # optional: run each task only on workers started with --resources GPU=1

    [parameters]                       # the same for every task
    epochs = 20

    [grid]                             # every combination is one task
    lr = [0.01, 0.1]
    seed = [0, 1, 2]

A task's folder is named from its grid values in the grid's order (``lr=0.1,seed=3``), so a re-run
finds it.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tasks import EXPERIMENTS

__all__ = ["SpecError", "Spec", "Task", "load_spec", "make_spec", "task_name"]

TOP_KEYS = ("experiment", "out", "profile", "threads", "resources", "parameters", "grid")


class SpecError(ValueError):
    """A spec that cannot run: the message says what to change."""


@dataclass(frozen=True)
class Task:
    """One grid point: its folder name and every parameter (fixed ones included)."""

    name: str
    parameters: dict[str, Any]
    grid_values: dict[str, Any]


@dataclass(frozen=True)
class Spec:
    experiment: str
    out: Path
    grid: dict[str, list]
    parameters: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    threads: int = 1
    resources: dict[str, float] = field(default_factory=dict)
    source: str = "<dict>"

    def tasks(self) -> list[Task]:
        """Every grid point, in the grid's order (the last key varies fastest)."""
        keys = list(self.grid)
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            point = dict(zip(keys, values))
            out.append(Task(task_name(point), {**self.parameters, **point}, point))
        return out

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["out"] = str(self.out)
        return d


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "+".join(_value_text(x) for x in v)
    return str(v)


def task_name(point: dict[str, Any]) -> str:
    """The folder name of a grid point: ``key=value`` pairs joined by commas (``lr=0.1,seed=3``)."""
    name = ",".join(f"{k}={_value_text(v)}" for k, v in point.items())
    return "".join(c if c.isalnum() or c in "=,.+-_" else "_" for c in name) or "task"


def load_spec(path, *, out=None, threads: int | None = None) -> Spec:
    """Read and check a TOML (``.toml``) or YAML (``.yaml``/``.yml``) spec; ``out``/``threads`` override it."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"no spec file at {path}: give the path of a .toml or .yaml sweep spec")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raise SpecError(f"{path}: a spec is a .toml, .yaml or .yml file, got {path.suffix or 'no suffix'}")
    except SpecError:
        raise
    except Exception as err:  # noqa: BLE001 (a parser's own error type: tomllib.TOMLDecodeError, yaml.YAMLError)
        raise SpecError(f"{path} is not valid {path.suffix[1:].upper()}: {err}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the spec must be a table of keys ({', '.join(TOP_KEYS)}), got {type(raw).__name__}")
    if out is not None:
        raw["out"] = str(out)
    if threads is not None:
        raw["threads"] = threads
    return make_spec(raw, source=str(path))


def make_spec(raw: dict[str, Any], source: str = "<dict>") -> Spec:
    """Check a spec given as a dict (the keys of a spec file) and build every task's protocol once, so
    that a bad value fails here, before any task starts."""
    where = f"{source}: "
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise SpecError(f"{where}unknown key(s) {unknown}; a spec has {', '.join(TOP_KEYS)}")
    name = raw.get("experiment")
    if name not in EXPERIMENTS:
        raise SpecError(f"{where}unknown experiment {name!r}: choose one of {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    if not raw.get("out"):
        raise SpecError(f"{where}no output folder: set out = \"<folder>\" in the spec, or pass --out")
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise SpecError(f"{where}the grid is empty: give at least one parameter with a list of values, "
                        f"e.g. [grid] seed = [0, 1]; parameters of {name}: {', '.join(exp.parameters)}")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise SpecError(f"{where}parameters must be a table of name = value")
    for kind, keys in (("grid", grid), ("parameters", parameters)):
        if "threads" in keys:
            raise SpecError(f"{where}threads is set at the top of the spec (threads = N: torch threads per task, "
                            f"recorded with each task), not in {kind}")
        bad = sorted(set(keys) - set(exp.parameters))
        if bad:
            raise SpecError(f"{where}unknown parameter(s) {bad} in {kind} for {name}: known are "
                            f"{', '.join(exp.parameters)}")
    both = sorted(set(grid) & set(parameters))
    if both:
        raise SpecError(f"{where}{both} are both in grid and parameters: keep each in one place")
    for k, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"{where}grid.{k} must be a non-empty list of values, got {values!r}")
        if len({_value_text(v) for v in values}) != len(values):
            raise SpecError(f"{where}grid.{k} repeats a value ({values}): two tasks would share a folder")
    threads = raw.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SpecError(f"{where}threads must be a whole number ≥ 1 (torch threads per task), got {threads!r}")
    resources = raw.get("resources") or {}
    if not isinstance(resources, dict) or not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v)
                                                  for v in resources.values()):
        raise SpecError(f"{where}resources must map names to positive amounts, e.g. {{GPU = 1}}, got {resources!r}")
    profile = raw.get("profile")
    if profile is not None and profile not in ("ci", "book", "full"):
        raise SpecError(f"{where}profile must be ci, book or full, got {profile!r}")
    spec = Spec(experiment=name, out=Path(raw["out"]), grid={k: list(v) for k, v in grid.items()},
                parameters=dict(parameters), profile=profile, threads=threads, resources=dict(resources),
                source=source)
    for task in spec.tasks():
        try:
            exp.check(task.parameters, profile)
        except (TypeError, ValueError) as err:
            raise SpecError(f"{where}task {task.name}: {err}") from None
    return spec
