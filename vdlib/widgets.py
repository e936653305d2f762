"""Interactive panels with a static fallback, and progress bars.

``panel(fn, eta=(0.005, 0.08, 0.005, 0.02), b=(1, 64, 1, 10))`` turns an experiment function
that returns a matplotlib figure into:

* in JupyterLab (a live kernel with a widget front-end): sliders that re-run ``fn`` and redraw;
* in a static build (the HTML book, CI, ``VDLIB_STATIC=1``): the same sliders, drawn from the
  stored widget state, followed by an ordinary figure of ``fn`` at the default values. The book
  therefore always shows a real figure, and nothing waits on a widget.

Which mode applies is decided by :func:`is_static`.

Used in: 02_sgd_as_sde.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets as w

ENV_STATIC = "VDLIB_STATIC"

STATIC_NOTE = (
    "<i>Static page: the figure below is drawn at the default values. "
    "Open this chapter in JupyterLab to move the sliders.</i>"
)


def is_static() -> bool:
    """True unless a live widget front-end is expected.

    ``VDLIB_STATIC=1`` / ``0`` decides explicitly. Otherwise a kernel started by a Jupyter
    server (JupyterLab, Notebook: it sets ``JPY_SESSION_NAME``) or running in Colab is live,
    and everything else (jupyter-book, nbclient in the tests, plain Python) is static.
    """
    flag = os.environ.get(ENV_STATIC, "").strip().lower()
    if flag in ("1", "true", "yes"):
        return True
    if flag in ("0", "false", "no"):
        return False
    if flag:
        raise ValueError(f"{ENV_STATIC} must be 1 or 0, got {flag!r}")
    live = "JPY_SESSION_NAME" in os.environ or "google.colab" in sys.modules
    return not live


def make_control(name: str, spec: Any) -> w.Widget:
    """A widget from a slider spec.

    ``spec`` is one of: ``(min, max, step, default)`` (an ``IntSlider`` when all four are ints,
    else a ``FloatSlider``); a ``list`` of options (a ``Dropdown``, default the first); a ``bool``
    (a ``Checkbox``); or a ready ``ipywidgets`` widget.
    """
    if isinstance(spec, w.Widget):
        return spec
    common = dict(description=name, continuous_update=False, style={"description_width": "initial"})
    if isinstance(spec, bool):
        return w.Checkbox(value=spec, description=name)
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"control {name!r}: the option list is empty")
        return w.Dropdown(options=spec, value=spec[0], description=name)
    if isinstance(spec, tuple) and len(spec) == 4:
        lo, hi, step, default = spec
        if not lo <= default <= hi:
            raise ValueError(f"control {name!r}: default {default} is outside [{lo}, {hi}]")
        if step <= 0:
            raise ValueError(f"control {name!r}: step must be positive, got {step}")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            return w.IntSlider(min=lo, max=hi, step=step, value=default, **common)
        readout = f".{max(0, -int(_floor_log10(step)))}f"
        return w.FloatSlider(min=lo, max=hi, step=step, value=default, readout_format=readout, **common)
    raise TypeError(
        f"control {name!r}: unsupported spec {spec!r}; use (min, max, step, default), a list of options, "
        "a bool, or an ipywidgets widget"
    )


def _floor_log10(x: float) -> int:
    import math

    return math.floor(math.log10(abs(x)))


@dataclass
class Panel:
    """An experiment function with its controls. ``show()`` displays it in the right mode."""

    fn: Callable[..., Any]
    controls: dict[str, w.Widget]
    static: bool
    output: w.Output = field(default_factory=w.Output)

    def values(self) -> dict[str, Any]:
        return {name: c.value for name, c in self.controls.items()}

    def figure(self, **overrides):
        """Run the experiment at the current control values (with ``overrides``) and return its figure."""
        return self.fn(**{**self.values(), **overrides})

    def box(self) -> w.VBox:
        children: list[w.Widget] = [w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap"))]
        if self.static:
            children.append(w.HTML(STATIC_NOTE))
        else:
            children.append(self.output)
        return w.VBox(children)

    def _redraw(self, _change=None) -> None:
        import matplotlib.pyplot as plt

        with self.output:
            self.output.clear_output(wait=True)
            fig = self.figure()
            plt.show()
            plt.close(fig)

    def show(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        display(self.box())
        if self.static:
            fig = self.figure()
            plt.show()
            plt.close(fig)
        else:
            for c in self.controls.values():
                c.observe(self._redraw, names="value")
            self._redraw()


def panel(fn: Callable[..., Any], *, static: bool | None = None, show: bool = True, **specs: Any) -> Panel:
    """Build (and by default display) a panel for ``fn`` with one control per keyword spec.

    ``fn`` takes the control names as keyword arguments and returns a matplotlib figure.
    See :func:`make_control` for the spec forms and :func:`is_static` for the mode.
    """
    if not callable(fn):
        raise TypeError(f"panel needs a callable experiment function, got {type(fn).__name__}")
    if not specs:
        raise ValueError("panel needs at least one control, e.g. panel(fn, eta=(0.01, 0.1, 0.01, 0.02))")
    controls = {name: make_control(name, spec) for name, spec in specs.items()}
    p = Panel(fn=fn, controls=controls, static=is_static() if static is None else static)
    if show:
        p.show()
    return p


def progress(iterable=None, *, config=None, **kwargs):
    """A ``tqdm.auto`` progress bar, shown only under the ``full`` profile (never in CI or the book)."""
    from tqdm.auto import tqdm

    if config is None:
        from .config import current

        config = current()
    kwargs.setdefault("disable", not config.show_progress)
    return tqdm(iterable, **kwargs)
