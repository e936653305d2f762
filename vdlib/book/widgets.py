"""Interactive panels with a static fallback.

``panel(fn, eta=(0.005, 0.08, 0.005, 0.02), b=(1, 64, 1, 10))`` turns an experiment function
that returns a matplotlib figure into:

* in JupyterLab (a live kernel with a widget front-end): sliders that re-run ``fn`` and redraw,
  with a "computing…" line above the figure while ``fn`` runs;
* in a static build (the HTML book, CI, ``VDLIB_STATIC=1``), without ``frames``: the same
  controls, drawn from the stored widget state but **disabled** (nothing could act on them),
  a note that says so, and an ordinary figure of ``fn`` at the default values. The book
  therefore always shows a real figure, and nothing waits on a widget;
* in a static build with ``frames=...`` (for cheap experiments): ``fn`` is run once per point of
  a small grid of control values when the page is executed, and the panel becomes one
  self-contained HTML output: an ``<input type="range">`` per varied control, with a readout,
  over the grid values, and an ``<img>`` whose source a few lines of inline JavaScript swap
  between the embedded PNG frames. The slider works in the static page without a kernel; a
  note says that the frames were precomputed on a grid and that JupyterLab re-runs the
  experiment live at any value. No widget is built, so the page carries no widget state and
  does not load the widget manager. See :func:`frame_grid` for the forms of ``frames``.

Which mode applies is decided by :func:`is_static`. In live mode ``frames`` is checked but
otherwise ignored.

Used in: 02_sgd_as_sde, 03_fokker_planck, 04_potential_and_force (frames),
05_variational_inference, 06_wasserstein_jko, 07_linear_case, 08_critical_points_move (frames),
09_limit_cycles (frames), 10_gradient_noise_spectrum, 11_sgd_does_not_converge,
12_practical_consequences.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import ipywidgets as w

ENV_STATIC = "VDLIB_STATIC"
_PANEL_COUNTER = itertools.count(1)  # numbers the precomputed panels of one kernel, in order

STATIC_NOTE = (
    "<i>Static page: the controls are disabled and the figure below is drawn at the default values. "
    "Open this chapter in JupyterLab to move the sliders.</i>"
)
FRAMES_NOTE = (
    "Static page: the slider{s} switch{es} between {n} figures precomputed on a grid of values when "
    "the page was built ({grid}). Open this chapter in JupyterLab to re-run the experiment live at any value."
)
MAX_FRAMES = 25   # frames=True / a frame grid may hold at most this many points unless max_frames says otherwise
FRAME_DPI = 90    # PNG resolution of the precomputed frames: a light page (the book's figures use 110)
FRAME_COLORS = 64  # palette size of the precomputed frames
COMPUTING = "<i>computing…</i>"  # shown above a live panel's figure while it is being redrawn


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
    else a ``FloatSlider`` whose readout shows as many decimals as min, step and default need);
    a ``list`` of options (a ``Dropdown``, default the first); a ``bool`` (a ``Checkbox``); or a
    ready ``ipywidgets`` widget.
    """
    if isinstance(spec, w.Widget):
        return spec
    return Control.from_spec(name, spec).make_widget()


@dataclass(frozen=True)
class Control:
    """A control as its spec describes it, without a widget.

    A precomputed static panel needs only this description: building no widget leaves the page
    without widget models (and without the widget manager that myst-nb loads for them).
    ``kind`` is ``"int"`` or ``"float"`` (sliders), ``"options"``, ``"bool"``, or ``"widget"`` (a
    ready widget of another type).
    """

    name: str
    kind: str
    value: Any
    min: Any = None
    max: Any = None
    step: Any = None
    options: tuple = ()  # (label, value) pairs of an "options" control
    readout_format: str = ""
    description: str = ""
    widget: w.Widget | None = None  # the ready widget given as the spec

    @property
    def slider(self) -> bool:
        return self.kind in ("int", "float")

    @property
    def option_values(self) -> list[Any]:
        return [v for _, v in self.options]

    @classmethod
    def from_spec(cls, name: str, spec: Any) -> Control:
        """Parse and check a spec (see :func:`make_control`)."""
        if isinstance(spec, w.Widget):
            return cls.from_widget(name, spec)
        if isinstance(spec, bool):
            return cls(name, "bool", spec, description=name)
        if isinstance(spec, list):
            if not spec:
                raise ValueError(f"control {name!r}: the option list is empty")
            try:
                from ipywidgets.widgets.widget_selection import _make_options

                pairs = tuple(_make_options(spec))
            except ImportError:  # pragma: no cover - a future ipywidgets without the helper
                pairs = tuple((str(v), v) for v in spec)
            return cls(name, "options", pairs[0][1], options=pairs, description=name)
        if isinstance(spec, tuple) and len(spec) == 4:
            lo, hi, step, default = spec
            if not lo <= default <= hi:
                raise ValueError(f"control {name!r}: default {default} is outside [{lo}, {hi}]")
            if step <= 0:
                raise ValueError(f"control {name!r}: step must be positive, got {step}")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
                return cls(name, "int", default, lo, hi, step, description=name)
            return cls(name, "float", default, lo, hi, step, readout_format=f".{_decimals(lo, step, default)}f",
                       description=name)
        raise TypeError(
            f"control {name!r}: unsupported spec {spec!r}; use (min, max, step, default), a list of options, "
            "a bool, or an ipywidgets widget"
        )

    @classmethod
    def from_widget(cls, name: str, c: w.Widget) -> Control:
        """The description of a ready widget."""
        common = dict(widget=c, description=getattr(c, "description", "") or name)
        if isinstance(c, w.IntSlider):
            return cls(name, "int", c.value, c.min, c.max, c.step, **common)
        if isinstance(c, w.FloatSlider):
            return cls(name, "float", c.value, c.min, c.max, c.step, readout_format=c.readout_format, **common)
        if isinstance(c, w.Checkbox):
            return cls(name, "bool", c.value, **common)
        if hasattr(c, "_options_values"):
            return cls(name, "options", c.value, options=tuple(zip(c._options_labels, c._options_values)), **common)
        if isinstance(c, w.FloatLogSlider):  # its min and max are exponents
            return cls(name, "widget", c.value, c.base ** c.min, c.base ** c.max, **common)
        return cls(name, "widget", c.value, getattr(c, "min", None), getattr(c, "max", None), **common)

    def make_widget(self) -> w.Widget:
        """The widget (the ready one, when the spec was a widget)."""
        if self.widget is not None:
            return self.widget
        common = dict(description=self.name, continuous_update=False, style={"description_width": "initial"})
        if self.kind == "bool":
            return w.Checkbox(value=self.value, description=self.name)
        if self.kind == "options":
            return w.Dropdown(options=list(self.options), value=self.value, description=self.name)
        if self.kind == "int":
            return w.IntSlider(min=self.min, max=self.max, step=self.step, value=self.value, **common)
        return w.FloatSlider(min=self.min, max=self.max, step=self.step, value=self.value,
                             readout_format=self.readout_format, **common)


def _as_control(name: str, c: Control | w.Widget) -> Control:
    return c if isinstance(c, Control) else Control.from_widget(name, c)


def _decimals(*xs: float) -> int:
    """The number of decimals needed to write every one of ``xs`` exactly (0.025 -> 3, 20.0 -> 0), at most 10."""
    need = 0
    for x in xs:
        exp = Decimal(repr(float(x))).normalize().as_tuple().exponent
        need = max(need, -exp if isinstance(exp, int) else 0)
    return min(need, 10)


# --------------------------------------------------------------------------------------------
# frame grids


def _steps(c: Control, max_frames: int) -> list[Any]:
    """Every value a control can take: the slider steps, the options, False/True."""
    name = c.name
    if c.slider:
        n = int(math.floor((c.max - c.min) / c.step + 1e-9)) + 1
        if n > max_frames:
            raise ValueError(
                f"frames: slider {name!r} has {n} steps ({c.min} to {c.max} by {c.step}), more than "
                f"max_frames={max_frames}; give it a grid, e.g. frames={{{name!r}: [...]}} with a few values"
            )
        if c.kind == "int":
            return [c.min + k * c.step for k in range(n)]
        d = _decimals(c.min, c.step)
        return [round(c.min + k * c.step, d) for k in range(n)]
    if c.kind == "bool":
        return [False, True]
    if c.kind == "options":
        return c.option_values
    raise TypeError(
        f"frames: control {name!r} ({type(c.widget).__name__}) has no steps to take; give its grid values "
        f"explicitly, e.g. frames={{{name!r}: [...]}}"
    )


def _check_value(c: Control, v: Any) -> Any:
    """``v`` as the control's value type, or a ValueError/TypeError that names the control and its range."""
    name = c.name
    if c.slider:
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise TypeError(f"frames[{name!r}]: {v!r} is not a number")
        x = float(v)
        tol = 1e-9 * max(1.0, abs(c.max - c.min))
        if not c.min - tol <= x <= c.max + tol:
            raise ValueError(
                f"frames[{name!r}]: {v!r} is outside the slider's range [{c.min}, {c.max}]; "
                f"use values in that range (or widen the slider)"
            )
        if c.kind == "int":
            if x != round(x):
                raise ValueError(f"frames[{name!r}]: {v!r} is not an integer, and {name!r} is an integer slider")
            return int(round(x))
        return x
    if c.kind == "bool":
        if not isinstance(v, bool):
            raise TypeError(f"frames[{name!r}]: {v!r} is not True or False ({name!r} is a checkbox)")
        return v
    if c.kind == "options":
        if not any(_same(v, o) for o in c.option_values):
            raise ValueError(f"frames[{name!r}]: {v!r} is not one of the options {c.option_values}")
        return v
    if c.min is not None and c.max is not None and not c.min <= v <= c.max:
        raise ValueError(f"frames[{name!r}]: {v!r} is outside the control's range [{c.min}, {c.max}]")
    return v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def frame_grid(controls: Mapping[str, Control | w.Widget], frames: Any, *,
               max_frames: int = MAX_FRAMES) -> dict[str, list]:
    """The grid of control values on which a static panel precomputes its figures.

    ``frames`` is one of:

    * ``None`` or ``False``: no frames (returns ``{}``);
    * ``True``: every value of every control (each slider step, each option, both states of a
      checkbox); meant for panels whose sliders have only a few steps;
    * a mapping ``{name: values}``: those values for the named controls (``True`` instead of a
      list: every step of that control); controls left out stay at their default value.

    Each control's default value is added to its grid when missing, so the first frame shown is
    the figure at the defaults. Slider values must lie in the slider's range (an integer slider
    takes integers), option values must be options. Returns ``{name: sorted values}`` for the
    controls in the grid, in the panel's order; the frames are the points of their Cartesian
    product, and there may be at most ``max_frames`` of them.
    """
    if frames is None or frames is False:
        return {}
    if frames is True:
        spec: dict[str, Any] = {name: True for name in controls}
    elif isinstance(frames, Mapping):
        spec = dict(frames)
    else:
        raise TypeError(f"frames must be True or a dict {{control name: list of values}}, got {type(frames).__name__}")
    if not spec:
        raise ValueError("frames={} names no control; give e.g. frames={'eta': [0.01, 0.05, 0.1]}, or frames=True")
    unknown = [name for name in spec if name not in controls]
    if unknown:
        raise ValueError(f"frames names {unknown}, which {'is' if len(unknown) == 1 else 'are'} not a control "
                         f"of this panel (its controls: {list(controls)})")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    grid: dict[str, list] = {}
    for name, c in controls.items():
        if name not in spec:
            continue
        c = _as_control(name, c)
        given = spec[name]
        if given is True:
            values = _steps(c, max_frames)
        else:
            if isinstance(given, (str, bytes, Mapping)) or not hasattr(given, "__iter__"):
                raise TypeError(f"frames[{name!r}] must be a list of values (or True for every step), got {given!r}")
            values = [_check_value(c, v) for v in given]
            if not values:
                raise ValueError(f"frames[{name!r}] is empty: give at least one value, or leave {name!r} out of "
                                 "frames to hold it at its default")
        unique: list = []
        for v in [*values, c.value]:  # the default joins the grid
            if not any(_same(v, u) for u in unique):
                unique.append(v)
        if c.slider or c.kind == "bool" or c.min is not None:
            unique.sort()
        elif c.kind == "options":  # in the order of the dropdown
            order = c.option_values
            unique.sort(key=lambda v: next(i for i, o in enumerate(order) if _same(o, v)))
        grid[name] = unique
    total = math.prod(len(v) for v in grid.values())
    if total == 1:
        raise ValueError(
            f"frames: the grid has a single point, the defaults ({grid}); give at least two values for one control"
        )
    if total > max_frames:
        sizes = " × ".join(f"{len(v)} ({name})" for name, v in grid.items())
        raise ValueError(
            f"frames: the grid has {sizes} = {total} points, more than max_frames={max_frames}. Use fewer values "
            f"per control (each control's default is always included), leave some controls out of frames "
            f"(they stay at their default), or raise max_frames if the page may grow by {total} figures"
        )
    return grid


def _labels(c: Control | w.Widget, values: list[Any]) -> list[str]:
    """How the readout of control ``c`` writes each of ``values``; floats all with the same decimals,
    as many as the slider's readout or the most precise value needs (0.0, 0.25 -> 0.00, 0.25)."""
    c = _as_control("", c)
    if c.kind == "float":
        fmt = c.readout_format or ".2f"
        digits = int(fmt[1:-1]) if fmt.startswith(".") and fmt.endswith("f") and fmt[1:-1].isdigit() else 2
        digits = max(digits, *(_decimals(v) for v in values))
        return [f"{v:.{digits}f}" for v in values]
    if c.kind == "int":
        return [str(int(v)) for v in values]
    if c.kind == "options":
        return [next(lab for lab, val in c.options if _same(val, v)) for v in values]
    return [f"{v:g}" if isinstance(v, float) else str(v) for v in values]


def _png(fig, dpi: int) -> bytes:
    """The figure as a PNG like the inline backend draws it (tight box), at ``dpi``, made small.

    Line plots, fills and contour plots need few colours: a 64-colour palette (Pillow's fast
    octree) makes the file 2-4 times smaller at no visible cost, and is used when it is smaller.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    raw = buf.getvalue()
    try:
        from PIL import Image

        img = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=FRAME_COLORS, method=Image.Quantize.FASTOCTREE)
        small = io.BytesIO()
        img.save(small, format="PNG", optimize=True)
        if small.tell() < len(raw):
            return small.getvalue()
    except Exception:  # pragma: no cover - Pillow missing or an odd image: keep matplotlib's PNG
        pass
    return raw


# --------------------------------------------------------------------------------------------
# the panel

# Swaps the frame when a slider moves. The frames are row-major over the varied controls.
FRAMES_JS = """(function () {
  var root = document.getElementById(%(id)s);
  if (!root || root.getAttribute("data-ready")) return;
  root.setAttribute("data-ready", "1");
  var data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  var img = root.querySelector("img");
  var inputs = root.querySelectorAll("input[type=range]");
  function update() {
    var k = 0, parts = [];
    for (var i = 0; i < inputs.length; i++) {
      var j = +inputs[i].value, text = data.labels[i][j];
      k = k * data.labels[i].length + j;
      inputs[i].setAttribute("aria-valuetext", text);
      root.querySelector("output[for='" + inputs[i].id + "']").textContent = text;
      parts.push(data.names[i] + " = " + text);
    }
    img.src = data.frames[k] ? "data:image/png;base64," + data.frames[k] : data.first;
    img.alt = data.alt + parts.join(", ");
  }
  data.first = img.src;
  for (var i = 0; i < inputs.length; i++) inputs[i].addEventListener("input", update);
})();"""


@dataclass
class Panel:
    """An experiment function with its controls. ``show()`` displays it in the right mode.

    ``specs`` describe the controls; ``grid`` (from :func:`frame_grid`) is the grid of precomputed
    frames of a static panel, empty for none. ``controls`` holds the widgets: disabled in a static
    panel (nothing can act on them), and not built at all for a precomputed one (its page then
    carries no widget model; only widgets given ready-made exist). ``output`` is the live panel's
    figure area (``None`` when static).
    """

    fn: Callable[..., Any]
    specs: dict[str, Control]
    static: bool
    grid: dict[str, list] = field(default_factory=dict)
    dpi: int = FRAME_DPI
    controls: dict[str, w.Widget] = field(init=False)
    output: w.Output | None = field(init=False, default=None)
    status: w.HTML | None = field(init=False, default=None)  # a live panel's "computing…" line

    def __post_init__(self) -> None:
        self.specs = {name: _as_control(name, c) for name, c in self.specs.items()}
        if self.static and self.grid:
            self.controls = {name: c.widget for name, c in self.specs.items() if c.widget is not None}
        else:
            self.controls = {name: c.make_widget() for name, c in self.specs.items()}
        if self.static:  # the stored widget state draws them disabled
            for c in self.controls.values():
                if hasattr(c, "disabled"):
                    c.disabled = True
        else:
            self.output = w.Output()
            self.status = w.HTML("")

    def values(self) -> dict[str, Any]:
        return {name: self.controls[name].value if name in self.controls else c.value
                for name, c in self.specs.items()}

    def figure(self, **overrides):
        """Run the experiment at the current control values (with ``overrides``) and return its figure."""
        return self.fn(**{**self.values(), **overrides})

    def box(self) -> w.VBox:
        children: list[w.Widget] = [w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap"))]
        if self.static:
            children.append(w.HTML(STATIC_NOTE))
        else:
            children += [self.status, self.output]
        return w.VBox(children)

    def frame_points(self) -> list[dict[str, Any]]:
        """The control values of each precomputed frame, row-major over ``grid`` (the last control fastest)."""
        names = list(self.grid)
        return [dict(zip(names, point)) for point in itertools.product(*self.grid.values())]

    def frames(self) -> list[bytes]:
        """One PNG per point of :meth:`frame_points`: ``fn`` run at that point (other controls at their defaults)."""
        import matplotlib.pyplot as plt

        pngs = []
        for point in self.frame_points():
            try:
                fig = self.figure(**point)
            except Exception as e:
                e.add_note(f"(while precomputing the static frame at {point})")
                raise
            try:
                pngs.append(_png(fig, self.dpi))
            finally:
                plt.close(fig)
        return pngs

    def frames_html(self, pngs: list[bytes] | None = None) -> str:
        """The self-contained HTML of a precomputed panel: range inputs with readouts, note, image, script.

        One ``<input type="range">`` per control with two or more grid values (its value is the index
        into the grid); the other controls are written as fixed values.
        """
        if not self.grid:
            raise ValueError("this panel has no frame grid (pass frames=... to panel)")
        pngs = self.frames() if pngs is None else pngs
        points = self.frame_points()
        if len(pngs) != len(points):
            raise ValueError(f"{len(pngs)} frames for a grid of {len(points)} points")
        # deterministic id (same frames, same page): executions of a chapter give identical outputs
        pid = f"vdlib-frames-{next(_PANEL_COUNTER)}-" + hashlib.sha256(b"".join(pngs)).hexdigest()[:10]
        defaults = self.values()
        # grid controls with one value contribute a factor 1 to the row-major index: the script skips them
        varied = {name: vals for name, vals in self.grid.items() if len(vals) > 1}
        at = {name: next(i for i, v in enumerate(vals) if _same(v, defaults[name])) for name, vals in varied.items()}
        start = 0
        for name, vals in varied.items():
            start = start * len(vals) + at[name]

        def desc(name):
            return html.escape(self.specs[name].description or name)

        labels = {name: _labels(self.specs[name], vals) for name, vals in varied.items()}
        rows = []
        for k, (name, vals) in enumerate(varied.items()):
            iid, text = f"{pid}-{k}", html.escape(labels[name][at[name]])
            rows.append(
                f'<span style="white-space:nowrap"><label for="{iid}">{desc(name)}</label> '
                f'<input type="range" id="{iid}" min="0" max="{len(vals) - 1}" step="1" value="{at[name]}" '
                f'aria-valuetext="{text}" style="vertical-align:middle;width:12em"> '
                f'<output for="{iid}" style="font-variant-numeric:tabular-nums">{text}</output></span>'
            )
        for name in self.specs:
            if name not in varied:
                text = html.escape(_labels(self.specs[name], [defaults[name]])[0])
                rows.append(f'<span style="white-space:nowrap">{desc(name)} = {text} (fixed on this page)</span>')
        grid_text = "; ".join(f"{name}: {', '.join(labels[name])}" for name in varied)
        plural = len(varied) > 1
        note = FRAMES_NOTE.format(s="s" if plural else "", es="" if plural else "es", n=len(points), grid=grid_text)
        alt = f"Figure of {getattr(self.fn, '__name__', 'the experiment')} at "
        data = {
            "names": list(varied),
            "labels": list(labels.values()),
            "alt": alt,
            # the frame shown first is stored once, in the <img> itself
            "frames": [None if k == start else base64.b64encode(p).decode("ascii") for k, p in enumerate(pngs)],
        }
        blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
        first = base64.b64encode(pngs[start]).decode("ascii")
        alt_now = alt + ", ".join(f"{name} = {labels[name][at[name]]}" for name in varied)
        return (
            f'<div class="vdlib-frames" id="{pid}" style="margin:0.5em 0">'
            f'<div style="display:flex;flex-wrap:wrap;gap:0.3em 1.5em;align-items:center">{"".join(rows)}</div>'
            f'<p style="margin:0.3em 0;font-size:0.9em"><i>{html.escape(note)}</i></p>'
            f'<img src="data:image/png;base64,{first}" alt="{html.escape(alt_now)}" style="max-width:100%;height:auto">'
            f'<script type="application/json">{blob}</script>'
            f"<script>{FRAMES_JS % {'id': json.dumps(pid)}}</script>"
            "</div>"
        )

    def show(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import HTML, display

        if self.static and self.grid:
            display(HTML(self.frames_html()))
            return
        display(self.box())
        if self.static:
            fig = self.figure()
            plt.show()
            plt.close(fig)
        else:
            for c in self.controls.values():
                c.observe(self._redraw, names="value")
            self._redraw()

    def _redraw(self, _change=None) -> None:
        import matplotlib.pyplot as plt

        self.status.value = COMPUTING  # the front-end shows it at once: the kernel sends it before computing
        try:
            with self.output:
                self.output.clear_output(wait=True)
                fig = self.figure()
                plt.show()
                plt.close(fig)
        finally:
            self.status.value = ""


def panel(fn: Callable[..., Any], *, static: bool | None = None, show: bool = True, frames: Any = None,
          max_frames: int = MAX_FRAMES, dpi: int = FRAME_DPI, **specs: Any) -> Panel:
    """Build (and by default display) a panel for ``fn`` with one control per keyword spec.

    ``fn`` takes the control names as keyword arguments and returns a matplotlib figure.
    See :func:`make_control` for the spec forms and :func:`is_static` for the mode.

    ``frames`` (static mode only; checked in both): precompute ``fn`` on a grid of control
    values (see :func:`frame_grid`: ``True`` for every step, or ``{name: [values]}``), at most
    ``max_frames`` figures as ``dpi`` PNGs, and show a slider that really works in the static
    page. Meant for experiments that take well under a second: the page's execution time grows
    by one run per frame.
    """
    if not callable(fn):
        raise TypeError(f"panel needs a callable experiment function, got {type(fn).__name__}")
    if not specs:
        raise ValueError("panel needs at least one control, e.g. panel(fn, eta=(0.01, 0.1, 0.01, 0.02))")
    controls = {name: Control.from_spec(name, spec) for name, spec in specs.items()}
    grid = frame_grid(controls, frames, max_frames=max_frames)
    p = Panel(fn=fn, specs=controls, static=is_static() if static is None else static, grid=grid, dpi=dpi)
    if show:
        p.show()
    return p
