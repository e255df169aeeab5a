"""Interactive explorers for the notebooks: controls that redraw a matplotlib figure (ipywidgets).

An explorer renders its figure to a PNG shown in an ``ipywidgets.Image``, so it needs no interactive matplotlib
backend, works the same in Jupyter and Colab, and can be built and updated headless (tests call ``update()``
directly). In a notebook, make it the last expression of a cell to show it.

Example:
    >>> def draw(sigma=1.0, size=32):
    ...     return panel({"blurred": blur(image, sigma)})
    >>> slider_explorer(draw, sigma=(0.5, 5.0), size=(16, 64, 16))
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cvlab.viz import panel

__all__ = ["Explorer", "slider_explorer", "scene_explorer"]


def _control(name: str, spec: Any, default: Any) -> ipywidgets.ValueWidget:
    """A widget from a short spec, after ``ipywidgets.interact``: tuple -> slider, list -> dropdown."""
    if isinstance(spec, ipywidgets.ValueWidget):
        spec.description = spec.description or name
        return spec
    common = {"description": name, "continuous_update": False}
    if isinstance(spec, bool):
        return ipywidgets.Checkbox(value=spec, description=name)
    if isinstance(spec, tuple) and len(spec) in (2, 3) and all(isinstance(v, int | float) for v in spec):
        low, high = spec[:2]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            step = spec[2] if len(spec) == 3 else 1
            value = default if isinstance(default, int) and low <= default <= high else low
            return ipywidgets.IntSlider(value=value, min=low, max=high, step=step, **common)
        step = spec[2] if len(spec) == 3 else (high - low) / 100
        value = default if isinstance(default, int | float) and low <= default <= high else low
        return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, **common)
    if isinstance(spec, list) and spec:
        return ipywidgets.Dropdown(options=spec, value=default if default in spec else spec[0], description=name)
    raise TypeError(f"{name}: expected a widget, a bool, a (min, max[, step]) tuple or a list of options, got {spec!r}")


class Explorer:
    """Controls and the picture ``fn(**values)`` draws; the picture is redrawn whenever a control changes.

    Args:
        fn (callable): ``fn(**values) -> Figure`` (or an ``Axes``); the figure is closed after rendering.
        controls (dict of str to ipywidgets.ValueWidget): one keyword argument of ``fn`` each.

    Attributes:
        controls: the control widgets by name.
        image (ipywidgets.Image): the rendered PNG.
        widget (ipywidgets.VBox): controls above the picture; what the notebook displays.
        figure (Figure): the last figure drawn (closed, but still savable).
    """

    def __init__(self, fn: Callable[..., Figure | Axes], controls: dict[str, ipywidgets.ValueWidget]):
        if not callable(fn):
            raise TypeError(f"fn: expected a callable returning a Figure, got {type(fn).__name__}")
        self.fn = fn
        self.controls = controls
        self.image = ipywidgets.Image(format="png")
        self.widget = ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), self.image])
        self.figure: Figure | None = None
        for control in controls.values():
            control.observe(lambda _change: self.update(), names="value")
        self.update()

    @property
    def values(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> Figure:
        """Draw ``fn(**values)`` and show it; returns the figure."""
        drawn = self.fn(**self.values)
        figure = drawn.figure if isinstance(drawn, Axes) else drawn
        if not isinstance(figure, Figure):
            raise TypeError(f"fn: expected it to return a matplotlib Figure or Axes, got {type(drawn).__name__}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)
        self.image.value = buffer.getvalue()
        self.figure = figure
        return figure

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def slider_explorer(fn: Callable[..., Figure | Axes], **controls: Any) -> Explorer:
    """An :class:`Explorer` whose controls are built from short specs, like ``ipywidgets.interact``.

    A ``(min, max)`` or ``(min, max, step)`` tuple makes an integer slider (all ints) or a float slider; a list
    makes a dropdown; a bool a checkbox; a widget is used as it is. A slider starts at ``fn``'s default for
    that argument when it has one in range. Sliders redraw when released, not while dragged.

    Args:
        fn (callable): ``fn(**values) -> Figure`` (or an ``Axes``).
        **controls: one spec per keyword argument of ``fn``.

    Returns:
        Explorer: already drawn once.
    """
    parameters = inspect.signature(fn).parameters
    defaults = {name: p.default for name, p in parameters.items() if p.default is not inspect.Parameter.empty}
    return Explorer(fn, {name: _control(name, spec, defaults.get(name)) for name, spec in controls.items()})


def scene_explorer(size: int = 96, **render_kwargs: Any) -> Explorer:
    """Browse the rendered scene world: sliders for the seed, the number of objects and the rare-class rate.

    Shows image | semantic labels | depth of ``cvlab.data.render_scene(seed, size, n_objects=..., rare=...)``
    (sky, which has no depth, is left blank).

    Args:
        size (int): image size in pixels.
        **render_kwargs: further fixed arguments of ``render_scene`` (e.g. ``shadows=False``).

    Returns:
        Explorer: already drawn once.
    """

    def draw(seed: int = 0, n_objects: int = 4, rare: float = 0.15) -> Figure:
        from cvlab.data import render_scene  # imported on first use: no import-time dependency on cvlab.data

        scene = render_scene(seed, size, n_objects=n_objects, rare=rare, **render_kwargs)
        depth = torch.where(scene.valid, scene.depth, torch.nan)
        return panel({"image": scene.image, "semantic": scene.semantic, "depth [m]": depth}, cmap="turbo")

    return slider_explorer(draw, seed=(0, 999), n_objects=(1, 8), rare=(0.0, 1.0, 0.05))
