import ipywidgets
import matplotlib.pyplot as plt
import pytest
import torch

from cvlab.widgets import Explorer, scene_explorer, slider_explorer

PNG = b"\x89PNG"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _recording_fn(calls):
    def draw(n=3, scale=0.5, mode="a", flag=False):
        calls.append((n, scale, mode, flag))
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot(range(n))
        return fig

    return draw


def test_slider_explorer_builds_controls_and_draws_once():
    calls = []
    explorer = slider_explorer(_recording_fn(calls), n=(1, 10), scale=(0.0, 1.0), mode=["a", "b"], flag=True)
    assert isinstance(explorer.controls["n"], ipywidgets.IntSlider)
    assert isinstance(explorer.controls["scale"], ipywidgets.FloatSlider)
    assert isinstance(explorer.controls["mode"], ipywidgets.Dropdown)
    assert isinstance(explorer.controls["flag"], ipywidgets.Checkbox)
    assert calls == [(3, 0.5, "a", True)]  # sliders start at the function's defaults
    assert bytes(explorer.image.value).startswith(PNG)
    assert isinstance(explorer.widget, ipywidgets.VBox)
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_changing_a_control_redraws():
    calls = []
    explorer = slider_explorer(_recording_fn(calls), n=(1, 10, 2))
    first = explorer.image.value
    explorer.controls["n"].value = 9
    assert calls[-1][0] == 9 and len(calls) == 2
    assert bytes(explorer.image.value).startswith(PNG) and bytes(explorer.image.value) != bytes(first)
    assert explorer.values == {"n": 9}
    assert not plt.get_fignums()  # rendered figures are closed


def test_explorer_accepts_widgets_and_axes():
    slider = ipywidgets.IntSlider(min=0, max=5, value=2)

    def draw(k):
        return plt.subplots()[1]

    explorer = Explorer(draw, {"k": slider})
    assert explorer.figure is not None and slider.description == ""
    explorer = slider_explorer(draw, k=slider)
    assert slider.description == "k"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: slider_explorer(lambda n=1: plt.figure(), n="abc"), TypeError, "n: expected a widget"),
        (lambda: slider_explorer(lambda n=1: None, n=(0, 3)), TypeError, "fn: expected it to return"),
        (lambda: Explorer(3, {}), TypeError, "fn: expected a callable"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_scene_explorer_headless():
    explorer = scene_explorer(size=24)
    assert set(explorer.controls) == {"seed", "n_objects", "rare"}
    assert bytes(explorer.image.value).startswith(PNG)
    explorer.controls["seed"].value = 7
    titles = [ax.get_title() for ax in explorer.figure.axes if ax.get_title()]
    assert titles == ["image", "semantic", "depth [m]"]
    depth = explorer.figure.axes[2].images[0].get_array()
    assert depth.mask.any() and not depth.mask.all()  # the sky has no depth


def test_scene_explorer_uses_render_scene(monkeypatch):
    import cvlab.data

    seen = []
    real = cvlab.data.render_scene

    def spy(seed, size, **kwargs):
        seen.append((seed, size, kwargs))
        return real(seed, size, **kwargs)

    monkeypatch.setattr(cvlab.data, "render_scene", spy)
    explorer = scene_explorer(size=16, shadows=False)
    explorer.controls["n_objects"].value = 2
    assert seen[-1] == (0, 16, {"n_objects": 2, "rare": 0.15, "shadows": False})
    assert torch.is_tensor(real(0, 16).image)
