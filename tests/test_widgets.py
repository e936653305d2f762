import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import pytest

from vdlib import config, widgets

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


def test_progress_bars_only_under_full():
    assert widgets.progress(range(3), config=config.current("ci")).disable
    assert widgets.progress(range(3), config=config.current("book")).disable
    assert not widgets.progress(range(3), config=config.current("full")).disable
