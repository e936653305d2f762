import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import pytest

from vdlib.book import widgets

matplotlib.use("Agg")


def _experiment(calls):
    def fn(eta, b, kind="a"):
        calls.append((eta, b, kind))
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, eta * b])
        return fig

    return fn


def test_static_mode_detection(monkeypatch):
    monkeypatch.delenv("VDLIB_STATIC", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert widgets.is_static()  # plain Python / nbclient / jupyter-book
    monkeypatch.setenv("JPY_SESSION_NAME", "chapters/02_sgd_as_sde.md")  # set by a Jupyter server
    assert not widgets.is_static()
    monkeypatch.setenv("VDLIB_STATIC", "1")
    assert widgets.is_static()  # the explicit switch wins
    monkeypatch.setenv("VDLIB_STATIC", "maybe")
    with pytest.raises(ValueError, match="VDLIB_STATIC must be 1 or 0"):
        widgets.is_static()


def test_controls_from_specs():
    assert isinstance(widgets.make_control("b", (1, 64, 1, 10)), w.IntSlider)
    s = widgets.make_control("eta", (0.005, 0.08, 0.005, 0.02))
    assert isinstance(s, w.FloatSlider) and s.value == 0.02 and s.readout_format == ".3f"
    d = widgets.make_control("kind", ["a", "b"])
    assert isinstance(d, w.Dropdown) and d.value == "a"
    assert isinstance(widgets.make_control("on", True), w.Checkbox)
    ready = w.IntText(3)
    assert widgets.make_control("n", ready) is ready


@pytest.mark.parametrize(
    "spec, message",
    [((0, 1, 0.1, 2.0), "outside"), ((0, 1, -0.1, 0.5), "step must be positive"), ([], "empty"), ("x", "unsupported spec")],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        widgets.make_control("p", spec)


def test_static_panel_draws_the_figure_at_the_defaults_once(monkeypatch):
    calls = []
    p = widgets.panel(_experiment(calls), static=True, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10), kind=["a", "b"])
    assert calls == [(0.02, 10, "a")]
    box = p.box()
    assert any(isinstance(c, w.HTML) and "Static page" in c.value for c in box.children)


def test_live_panel_redraws_when_a_slider_moves():
    calls = []
    p = widgets.panel(_experiment(calls), static=False, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    assert calls == [(0.02, 10, "a")]
    p.controls["b"].value = 20
    assert calls[-1] == (0.02, 20, "a")
    assert p.box().children[-1] is p.output


def test_panel_input_errors():
    with pytest.raises(TypeError, match="callable"):
        widgets.panel(42, eta=(0, 1, 0.1, 0.5))
    with pytest.raises(ValueError, match="at least one control"):
        widgets.panel(lambda: None)


# --------------------------------------------------------------------------------------------
# static pages: disabled controls, precomputed frames


def _controls(**specs):
    return {name: widgets.make_control(name, spec) for name, spec in specs.items()}


def test_static_controls_are_disabled_and_live_ones_are_not():
    calls = []
    p = widgets.panel(_experiment(calls), static=True, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10), kind=["a", "b"])
    assert all(c.disabled for c in p.controls.values())
    # the stored widget state is what the static page draws: it must say disabled
    assert all(c.get_state()["disabled"] for c in p.controls.values())
    assert "disabled" in widgets.STATIC_NOTE
    live = widgets.panel(_experiment([]), static=False, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    assert not live.controls["eta"].disabled


def test_float_readouts_show_the_decimals_the_slider_needs():
    assert widgets.make_control("tau", (0.025, 0.5, 0.025, 0.25)).readout_format == ".3f"
    assert widgets.make_control("beta", (0.5, 20.0, 0.5, 2.0)).readout_format == ".1f"
    assert widgets.make_control("a", (0.0, 0.9, 0.05, 0.5)).readout_format == ".2f"


def test_frame_grid_adds_the_default_and_sorts():
    c = _controls(eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10), kind=["a", "b", "c"], on=False)
    grid = widgets.frame_grid(c, {"b": [64, 1.0], "eta": [0.1, 0.05], "kind": ["c", "a"]})
    assert list(grid) == ["eta", "b", "kind"]  # the panel's order; "on" stays at its default
    assert grid["eta"] == [0.02, 0.05, 0.1] and grid["b"] == [1, 10, 64] and grid["kind"] == ["a", "c"]
    assert all(type(v) is int for v in grid["b"])
    assert widgets.frame_grid(c, None) == {} and widgets.frame_grid(c, False) == {}


def test_frame_grid_true_takes_every_step():
    c = _controls(eta=(0.0, 0.3, 0.1, 0.1), kind=["a", "b"], on=True)
    assert widgets.frame_grid(c, True) == {"eta": [0.0, 0.1, 0.2, 0.3], "kind": ["a", "b"], "on": [False, True]}
    assert widgets.frame_grid(c, {"eta": True}) == {"eta": [0.0, 0.1, 0.2, 0.3]}


@pytest.mark.parametrize(
    "frames, error, message",
    [
        ({"eta": [0.05, 0.2]}, ValueError, r"frames\['eta'\]: 0.2 is outside the slider's range \[0.01, 0.1\]"),
        ({"eta": []}, ValueError, r"frames\['eta'\] is empty: give at least one value, or leave 'eta' out"),
        ({}, ValueError, "names no control"),
        ({"beta": [1.0]}, ValueError, r"'beta'.* not a control of this panel \(its controls: \['eta', 'b', 'kind'\]\)"),
        ({"b": [2.5]}, ValueError, "not an integer"),
        ({"kind": ["z"]}, ValueError, "not one of the options"),
        ({"eta": [0.02]}, ValueError, "single point"),
        ({"eta": "0.05"}, TypeError, "must be a list of values"),
        ({"eta": [True]}, TypeError, "not a number"),
        ([0.05], TypeError, "frames must be True or a dict"),
    ],
)
def test_bad_frame_grids_are_clear_errors(frames, error, message):
    c = _controls(eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10), kind=["a", "b"])
    with pytest.raises(error, match=message):
        widgets.frame_grid(c, frames)


def test_too_many_frames_says_what_to_change():
    c = _controls(eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    grid = {"eta": [0.01, 0.04, 0.07, 0.1], "b": [1, 2, 4, 8, 16, 32]}  # 5 x 7 with the defaults 0.02 and 10
    with pytest.raises(ValueError, match=r"5 \(eta\) × 7 \(b\) = 35 points, more than max_frames=25\. Use fewer values"):
        widgets.frame_grid(c, grid)
    assert len(widgets.frame_grid(c, grid, max_frames=35)["b"]) == 7  # allowed when asked for
    # every step of a fine slider: the message names the slider and the way out
    with pytest.raises(ValueError, match=r"slider 'b' has 64 steps .* give it a grid, e.g. frames=\{'b': \[\.\.\.\]\}"):
        widgets.frame_grid(c, True)
    with pytest.raises(ValueError, match="max_frames must be a positive integer"):
        widgets.frame_grid(c, {"b": [1]}, max_frames=0)
    # the panel checks the grid in live mode too, so a bad grid fails in JupyterLab as in the book
    with pytest.raises(ValueError, match="max_frames=25"):
        widgets.panel(_experiment([]), static=False, frames=grid, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))


def _parse_frames_html(text):
    """(range inputs as attribute dicts, outputs' texts, the JSON data, the <img> src) of a frames panel."""
    import json
    import re

    inputs = [dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m)) for m in re.findall(r"<input ([^>]*)>", text)]
    outputs = re.findall(r"<output [^>]*>([^<]*)</output>", text)
    data = json.loads(re.search(r'<script type="application/json">(.*?)</script>', text, re.S).group(1))
    src = re.search(r'<img src="([^"]*)"', text).group(1)
    return inputs, outputs, data, src


def test_static_panel_with_frames_precomputes_a_working_html_slider(monkeypatch):
    import base64

    from IPython.display import HTML

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    calls = []

    def fn(eta, b, kind):
        calls.append((eta, b, kind))
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.set_title(f"{eta} {b}")  # every frame differs
        return fig

    widgets.panel(fn, static=True, frames={"eta": [0.01, 0.1], "b": [1, 64]},
                      eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10), kind=["a", "b"])
    # 3 x 3 frames, row-major with the last control fastest, "kind" held at its default
    assert [c[:2] for c in calls] == [(e, b) for e in (0.01, 0.02, 0.1) for b in (1, 10, 64)]
    assert {c[2] for c in calls} == {"a"}
    assert len(shown) == 1 and isinstance(shown[0], HTML)  # one self-contained output, no widget
    inputs, outputs, data, src = _parse_frames_html(shown[0].data)
    assert [(i["type"], i["min"], i["max"], i["value"]) for i in inputs] == [("range", "0", "2", "1")] * 2
    assert outputs == ["0.02", "10"]  # readouts at the defaults
    assert data["names"] == ["eta", "b"] and data["labels"] == [["0.01", "0.02", "0.10"], ["1", "10", "64"]]
    assert len(data["frames"]) == 9 and data["frames"][4] is None  # the default frame lives in the <img> only
    pngs = [base64.b64decode(f) for f in data["frames"] if f] + [base64.b64decode(src.split(",", 1)[1])]
    assert all(png.startswith(b"\x89PNG") for png in pngs) and len(set(pngs)) == 9
    text = shown[0].data
    assert "precomputed on a grid" in text and "JupyterLab" in text and "re-run the experiment live" in text
    assert "kind = a (fixed on this page)" in text
    assert "<script>" in text and "addEventListener" in text
    assert not plt.get_fignums()  # every frame's figure was closed


def test_frames_stay_small():
    """Frames at FRAME_DPI with a 64-colour palette: a book-sized line plot is a few kB."""
    from vdlib.book import plotting

    plotting.book_style()
    p = widgets.panel(_experiment([]), static=True, show=False, frames={"eta": [0.01, 0.1]}, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    pngs = p.frames()
    assert len(pngs) == 3 and max(map(len, pngs)) < 20_000, [len(x) for x in pngs]
    matplotlib.rcdefaults()


def test_frame_errors_name_the_point():
    def fn(eta):
        if eta > 0.05:
            raise RuntimeError("diverged")
        fig, _ = plt.subplots()
        return fig

    with pytest.raises(RuntimeError, match="diverged") as info:
        widgets.panel(fn, static=True, show=True, frames={"eta": [0.1]}, eta=(0.01, 0.1, 0.01, 0.02))
    assert "static frame at {'eta': 0.1}" in "".join(getattr(info.value, "__notes__", []))
    assert not plt.get_fignums()


def test_live_panel_ignores_frames():
    calls = []
    p = widgets.panel(_experiment(calls), static=False, frames={"eta": [0.01, 0.1]}, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    assert calls == [(0.02, 10, "a")]  # one live draw, nothing precomputed
    p.controls["eta"].value = 0.05
    assert calls[-1] == (0.05, 10, "a") and not p.controls["eta"].disabled


def test_frame_readouts_share_their_decimals():
    c = _controls(lam=(0.0, 2.0, 0.1, 1.5), b=(1, 64, 1, 10), kind=["a", "b"])
    assert widgets._labels(c["lam"], [0.0, 0.25, 1.5]) == ["0.00", "0.25", "1.50"]
    assert widgets._labels(c["lam"], [0.0, 1.5]) == ["0.0", "1.5"]  # the slider's own readout format
    assert widgets._labels(c["b"], [1, 64]) == ["1", "64"] and widgets._labels(c["kind"], ["b"]) == ["b"]


def _widget_models():
    from ipywidgets.widgets import widget as m

    return set(m._instances)


def test_precomputed_panel_builds_no_widget(monkeypatch):
    """A precomputed static panel stores no widget model in the page (so myst-nb loads no widget
    manager for it); a plain static panel builds its (disabled) controls but no live Output area."""
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: None)
    before = _widget_models()
    p = widgets.panel(_experiment([]), static=True, frames={"eta": [0.01, 0.1]}, eta=(0.01, 0.1, 0.01, 0.02), b=(1, 64, 1, 10))
    assert _widget_models() == before and p.controls == {} and p.output is None
    assert p.values() == {"eta": 0.02, "b": 10}
    p = widgets.panel(_experiment([]), static=True, show=False, eta=(0.01, 0.1, 0.01, 0.02))
    assert p.output is None and set(p.controls) == {"eta"}


def test_ready_widgets_can_take_frames():
    ready = w.FloatLogSlider(value=0.1, min=-3, max=0, description="lr")
    c = widgets.Control.from_widget("lr", ready)
    assert c.kind == "widget" and c.description == "lr"
    assert (c.min, c.max) == (0.001, 1.0)  # a log slider's range in values, not exponents
    assert widgets.frame_grid({"lr": ready}, {"lr": [0.01, 1.0]}) == {"lr": [0.01, 0.1, 1.0]}
    with pytest.raises(ValueError, match=r"10.0 is outside the control's range \[0.001, 1.0\]"):
        widgets.frame_grid({"lr": ready}, {"lr": [10.0]})
    with pytest.raises(TypeError, match="has no steps to take"):
        widgets.frame_grid({"lr": ready}, True)
    slider = w.IntSlider(value=3, min=0, max=5, description="n")
    assert widgets.frame_grid({"n": slider}, True) == {"n": [0, 1, 2, 3, 4, 5]}
