"""Pictures every notebook draws: label colours, overlays, panels, depth and normals, point clouds, curves.

Colour functions (:func:`palette`, :func:`class_colors`, :func:`colorize`, :func:`instance_colors`,
:func:`colorize_panoptic`, :func:`overlay`, :func:`error_map`) return tensors on the device of their input;
plotting functions return the matplotlib ``Figure`` or ``Axes`` they drew on and never call ``plt.show()``.

One colour convention throughout: a class keeps its colour in every notebook; stuff classes (sky, ground, …)
are drawn in muted tones and thing classes (countable objects) in saturated ones; ignored or void pixels are
white.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from skimage.color import hsv2rgb
from torch import Tensor

from cvlab._validate import check_int, check_labels, check_number, check_same_shape, check_tensor

__all__ = [
    "palette",
    "class_colors",
    "colorize",
    "instance_colors",
    "colorize_panoptic",
    "overlay",
    "error_map",
    "panel",
    "class_legend",
    "show_depth",
    "show_normals",
    "plot_point_cloud",
    "plot_history",
]

IGNORE_COLOR = (1.0, 1.0, 1.0)
_GOLDEN = 0.6180339887498949


def _as_tensor(x: object, name: str) -> Tensor:
    """Accept NumPy arrays as a convenience for plotting; everything else goes through ``check_tensor``."""
    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else check_tensor(x, name)


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


def _default_stuff() -> tuple[int, ...]:
    """Stuff class ids of the rendered scene world, or none when ``cvlab.data`` does not provide them."""
    try:
        from cvlab.data import STUFF_CLASSES
    except ImportError:
        return ()
    return tuple(STUFF_CLASSES)


def palette(num_classes: int = 256) -> Tensor:
    """The PASCAL VOC colour map: class id bits interleaved into the high bits of R, G and B.

    Bit ``3b + c`` of the id sets bit ``7 - b`` of channel ``c``, so ids 1–7 get the primaries at half
    intensity, and every id below 2**24 gets its own colour.

    Args:
        num_classes (int): N, the number of colours.

    Returns:
        Tensor[N, 3]: uint8 RGB colours; id 0 is black.

    Example:
        >>> palette(4).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    num_classes = check_int(num_classes, "num_classes")
    if num_classes > 2**24:
        raise ValueError(f"num_classes: expected at most 2**24 colours, got {num_classes}")
    ids = torch.arange(num_classes)
    colors = torch.zeros(num_classes, 3, dtype=torch.long)
    for bit in range(8):
        for channel in range(3):
            colors[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return colors.to(torch.uint8)


def class_colors(num_classes: int = 256, stuff: Sequence[int] | None = None) -> Tensor:
    """The colour of every class: :func:`palette`, brightened for things and muted towards grey for stuff.

    Args:
        num_classes (int): N, the number of classes.
        stuff (sequence of int, optional): ids drawn muted. Default: ``cvlab.data.STUFF_CLASSES`` (sky,
            ground, wall of the scene world) when available, else none; pass ``()`` for the plain palette.

    Returns:
        Tensor[N, 3]: float32 RGB in [0, 1].
    """
    base = palette(num_classes).float() / 255
    colors = (1.8 * base).clamp(max=1.0)
    stuff = _default_stuff() if stuff is None else tuple(stuff)
    muted = [s for s in stuff if 0 <= s < num_classes]
    colors[muted] = 0.4 * base[muted] + 0.6 * 0.7
    return colors


def colorize(labels: Tensor, ignore_index: int | None = 255, stuff: Sequence[int] | None = None) -> Tensor:
    """Paint a semantic label map with :func:`class_colors`; ``ignore_index`` pixels become white.

    Args:
        labels (Tensor[..., H, W]): integer class ids in [0, 256) or ``ignore_index``.
        ignore_index (int or None): label drawn white.
        stuff (sequence of int, optional): muted classes, see :func:`class_colors`.

    Returns:
        Tensor[..., H, W, 3]: float32 RGB in [0, 1], on the device of ``labels``.
    """
    labels = check_tensor(_as_tensor(labels, "labels"), "labels", ndim=(2, 3), shape="(H, W)", dtype="int")
    check_labels(labels, "labels", 256, ignore_index)
    ignored = labels == ignore_index if ignore_index is not None else torch.zeros_like(labels, dtype=torch.bool)
    colors = class_colors(256, stuff).to(labels.device)[labels.long().clamp(0, 255)]
    colors[ignored] = torch.tensor(IGNORE_COLOR, device=labels.device)
    return colors


def _id_colors(ids: Tensor) -> Tensor:
    """Well-separated colours for integer ids: hue steps by the golden ratio, saturation and value vary."""
    x = ids.double()
    hsv = torch.stack(
        [(x * _GOLDEN + 0.1) % 1, 0.65 + 0.3 * ((x * 0.7548776662) % 1), 0.8 + 0.2 * ((x * 0.5698) % 1)], -1
    )
    return torch.from_numpy(hsv2rgb(hsv.cpu().numpy())).to(ids.device, torch.float32)


def instance_colors(instance: Tensor) -> Tensor:
    """Paint an instance map: one colour per id, 0 (no instance) black.

    Colours are a fixed function of the id (hue stepped by the golden ratio), so the same id has the same
    colour in every picture and neighbouring ids look different.

    Args:
        instance (Tensor[H, W]): non-negative integer instance ids.

    Returns:
        Tensor[H, W, 3]: float32 RGB in [0, 1], on the device of ``instance``.
    """
    instance = check_tensor(_as_tensor(instance, "instance"), "instance", ndim=2, shape="(H, W)", dtype="int")
    if bool((instance < 0).any()):
        raise ValueError(f"instance: expected ids >= 0, got {int(instance.min())}")
    ids, inverse = torch.unique(instance, return_inverse=True)
    table = _id_colors(ids.cpu())
    table[ids.cpu() == 0] = 0.0
    return table.to(instance.device)[inverse]


def colorize_panoptic(panoptic: Tensor, void: int = -1, stuff: Sequence[int] | None = None) -> Tensor:
    """Paint a panoptic map: stuff in its class colour, each thing instance a variation of its class colour.

    Args:
        panoptic (Tensor[H, W, 2]): integer (category_id, instance_id) per pixel, instance_id 0 for stuff.
        void (int): category id of unlabeled pixels, drawn white.
        stuff (sequence of int, optional): muted classes, see :func:`class_colors`.

    Returns:
        Tensor[H, W, 3]: float32 RGB in [0, 1], on the device of ``panoptic``.
    """
    panoptic = check_tensor(_as_tensor(panoptic, "panoptic"), "panoptic", ndim=3, shape="(H, W, 2)", dtype="int")
    if panoptic.shape[-1] != 2:
        raise ValueError(f"panoptic: expected a tensor of shape (H, W, 2), got shape {tuple(panoptic.shape)}")
    category, instance = panoptic.unbind(-1)
    colors = colorize(category, ignore_index=void, stuff=stuff)
    thing = (instance > 0) & (category != void)
    segment = torch.where(thing, category.long() * 1000 + instance.long(), 0)
    colors[thing] = 0.5 * colors[thing] + 0.5 * instance_colors(segment)[thing]
    return colors


def _check_image(image: Tensor, name: str = "image") -> Tensor:
    image = check_tensor(_as_tensor(image, name), name, ndim=3, shape="(3, H, W)", dtype="float")
    if image.shape[0] != 3:
        raise ValueError(f"{name}: expected a tensor of shape (3, H, W), got shape {tuple(image.shape)}")
    return image


def overlay(
    image: Tensor,
    labels: Tensor,
    alpha: float = 0.5,
    ignore_index: int | None = 255,
    stuff: Sequence[int] | None = None,
) -> Tensor:
    """Blend the label colours over an image: ``(1 - alpha) * image + alpha * colorize(labels)``.

    Ignored pixels show the image unchanged.

    Args:
        image (Tensor[3, H, W]): float RGB in [0, 1].
        labels (Tensor[H, W]): integer class ids, see :func:`colorize`.
        alpha (float): opacity of the labels, in [0, 1].
        ignore_index (int or None): label left transparent.
        stuff (sequence of int, optional): muted classes, see :func:`class_colors`.

    Returns:
        Tensor[H, W, 3]: float RGB in [0, 1].
    """
    image = _check_image(image)
    labels = check_tensor(_as_tensor(labels, "labels"), "labels", ndim=2, shape="(H, W)", dtype="int")
    if image.shape[1:] != labels.shape:
        raise ValueError(
            f"image and labels: expected the same H, W, got {tuple(image.shape)} and {tuple(labels.shape)}"
        )
    alpha = check_number(alpha, "alpha", minimum=0, maximum=1)
    rgb = image.permute(1, 2, 0).clamp(0, 1)
    colors = colorize(labels, ignore_index, stuff).to(rgb.dtype)
    blended = (1 - alpha) * rgb + alpha * colors
    if ignore_index is not None:
        blended = torch.where((labels == ignore_index)[..., None], rgb, blended)
    return blended


def error_map(pred: Tensor, target: Tensor, ignore_index: int | None = 255) -> Tensor:
    """Where a prediction is right (dark grey), wrong (red) or not scored (white, target = ``ignore_index``).

    Args:
        pred (Tensor[H, W]): predicted integer class ids.
        target (Tensor[H, W]): true integer class ids.
        ignore_index (int or None): target value drawn white.

    Returns:
        Tensor[H, W, 3]: float32 RGB in [0, 1].
    """
    pred = check_tensor(_as_tensor(pred, "pred"), "pred", ndim=(2, 3), shape="(H, W)", dtype="int")
    target = check_tensor(_as_tensor(target, "target"), "target", ndim=(2, 3), shape="(H, W)", dtype="int")
    check_same_shape(pred, target, "pred", "target")
    table = torch.tensor([[0.2, 0.2, 0.2], [0.9, 0.15, 0.1], IGNORE_COLOR], device=pred.device)
    kind = (pred != target).long()
    if ignore_index is not None:
        kind[target == ignore_index] = 2
    return table[kind]


# ------------------------------------------------------------------------------------------------- panel


def _draw(ax: Axes, x: Tensor, name: str, cmap: str, ignore_index: int | None,
          stuff: Sequence[int] | None) -> set[int]:
    """Draw one panel entry after deciding what it is (see :func:`panel`); return the class ids it painted."""
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    integer = not x.is_floating_point() and x.dtype != torch.bool
    if x.dim() == 2 and x.dtype == torch.bool:
        ax.imshow(_numpy(x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    elif x.dim() == 2 and integer:
        ax.imshow(_numpy(colorize(x, ignore_index, stuff)), interpolation="nearest")
        return set(torch.unique(x).tolist()) - {ignore_index}
    elif x.dim() == 3 and integer and x.shape[-1] == 2:
        ax.imshow(_numpy(colorize_panoptic(x, stuff=stuff)), interpolation="nearest")
        return {c for c in torch.unique(x[..., 0]).tolist() if c >= 0}
    elif x.dim() == 3 and (x.is_floating_point() or x.dtype == torch.uint8) and 3 in (x.shape[0], x.shape[-1]):
        rgb = x.permute(1, 2, 0) if x.shape[0] == 3 else x
        rgb = rgb.float() / 255 if x.dtype == torch.uint8 else rgb.float().clamp(0, 1)
        ax.imshow(_numpy(rgb), interpolation="nearest")
    elif x.dim() == 2 and x.is_floating_point():
        image = ax.imshow(np.ma.masked_invalid(_numpy(x.float())), cmap=cmap)
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    else:
        raise ValueError(
            f"{name}: expected a float (3, H, W) or (H, W, 3) image, (H, W) integer labels, an (H, W) float "
            f"map, an (H, W) bool mask or an (H, W, 2) integer panoptic map, "
            f"got {x.dtype} of shape {tuple(x.shape)}"
        )
    return set()


def panel(
    images: Mapping[str, Any] | Sequence[Any],
    ncols: int | None = None,
    titles: Sequence[str] | None = None,
    cmap: str = "viridis",
    ignore_index: int | None = 255,
    stuff: Sequence[int] | None = None,
    size: float = 3.0,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Show several pictures side by side, each drawn according to what it is.

    Each entry (tensor or NumPy array; a leading dimension of size 1 is dropped) is recognised by dtype and
    shape:

    - float ``(3, H, W)`` or ``(H, W, 3)``, or uint8 of those shapes: an RGB image (floats clipped to [0, 1]);
    - integer ``(H, W)``: semantic labels, painted with :func:`colorize` (``ignore_index`` white);
    - integer ``(H, W, 2)``: a panoptic map, painted with :func:`colorize_panoptic`;
    - float ``(H, W)``: a scalar map (depth, probability, error) in ``cmap`` with a colour bar, NaN blank;
    - bool ``(H, W)``: a mask in black and white.

    Pre-painted pictures (:func:`instance_colors`, :func:`overlay`, :func:`error_map`) are ``(H, W, 3)``
    images.

    Args:
        images (dict of str to Tensor, or list of Tensor): the pictures; dict keys are the titles.
        ncols (int, optional): pictures per row. Default: all in one row, at most 4.
        titles (list of str, optional): titles for a list of pictures (overrides dict keys).
        cmap (str): matplotlib colour map of scalar maps.
        ignore_index (int or None): label drawn white in label maps.
        stuff (sequence of int, optional): muted classes, see :func:`class_colors`.
        size (float): size of one picture in inches.
        class_names (sequence of str, optional): name of each class id; when given, a legend below the
            pictures names every class that a label or panoptic map shows (e.g. ``cvlab.data.CLASS_NAMES``).

    Returns:
        Figure: the figure, one axis per picture.

    Example:
        >>> errors = error_map(pred, target)
        >>> fig = panel({"image": image, "target": target, "prediction": pred, "errors": errors})
    """
    if isinstance(images, Mapping):
        names, entries = [str(k) for k in images], list(images.values())
    elif isinstance(images, Sequence) and not isinstance(images, str | Tensor):
        names, entries = [f"images[{i}]" for i in range(len(images))], list(images)
    else:
        raise TypeError(f"images: expected a dict or a list of tensors, got {type(images).__name__}")
    if not entries:
        raise ValueError("images: expected at least one picture, got none")
    if titles is not None and len(titles) != len(entries):
        raise ValueError(f"titles: expected {len(entries)} titles, got {len(titles)}")
    shown = list(titles) if titles is not None else (names if isinstance(images, Mapping) else [""] * len(names))
    ncols = check_int(ncols, "ncols") if ncols is not None else min(len(entries), 4)
    nrows = math.ceil(len(entries) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(entries) :]:
        ax.set_axis_off()
    present: set[int] = set()
    for ax, entry, name, title in zip(axes.flat, entries, names, shown, strict=False):
        present |= _draw(ax, _as_tensor(entry, name), name, cmap, ignore_index, stuff)
        ax.set(title=title, xticks=[], yticks=[])  # a thin frame keeps white regions visible
    if class_names is not None:
        class_legend(fig, class_names, sorted(present), stuff=stuff)
    return fig


def class_legend(
    fig: Figure, class_names: Sequence[str], classes: Sequence[int] | None = None, stuff: Sequence[int] | None = None
) -> None:
    """Add a legend below ``fig``'s pictures: a patch in each class's colour (:func:`class_colors`) and its name.

    Args:
        fig (Figure): the figure (a constrained layout makes room for the legend).
        class_names (sequence of str): name of class id ``c`` at index ``c``.
        classes (sequence of int, optional): the ids to list. Default: every id of ``class_names``.
        stuff (sequence of int, optional): muted classes, see :func:`class_colors`.
    """
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise TypeError("class_names: expected a sequence of str (the name of each class id)")
    classes = list(range(len(class_names))) if classes is None else [int(c) for c in classes]
    unnamed = [c for c in classes if not 0 <= c < len(class_names)]
    if unnamed:
        raise ValueError(f"class_names: expected a name for every class shown, {len(class_names)} names do not "
                         f"cover class {unnamed[0]}")
    if not classes:
        return
    colors = class_colors(max(256, max(classes) + 1), stuff).tolist()
    handles = [Patch(facecolor=colors[c], edgecolor="0.3", label=class_names[c]) for c in classes]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 7), frameon=False)


# ------------------------------------------------------------------------------------------------- geometry


def _new_axes(ax: Axes | None, **kwargs) -> Axes:
    return plt.subplots(subplot_kw=kwargs)[1] if ax is None else ax


def show_depth(
    depth: Tensor,
    valid: Tensor | None = None,
    ax: Axes | None = None,
    cmap: str = "turbo",
    inverse: bool = False,
    label: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """Draw a depth map in a colour map with a colour bar; invalid pixels white.

    Args:
        depth (Tensor[H, W] or Tensor[1, H, W]): depth in metres.
        valid (Tensor[H, W], optional): bool mask of pixels with a measurement. Default: finite and > 0.
        ax (Axes, optional): where to draw. Default: a new figure.
        cmap (str): matplotlib colour map.
        inverse (bool): show inverse depth 1 / depth (disparity-like: near is large, far detail compressed).
        label (str, optional): colour bar label. Default: ``"depth [m]"`` or ``"inverse depth [1/m]"``.
        vmin, vmax (float, optional): colour range. Default: the range of the valid pixels.

    Returns:
        Axes: the axes drawn on.
    """
    depth = check_tensor(_as_tensor(depth, "depth"), "depth", ndim=(2, 3), shape="(H, W)", dtype="float")
    if depth.dim() == 3:
        if depth.shape[0] != 1:
            raise ValueError(f"depth: expected a tensor of shape (H, W) or (1, H, W), got shape {tuple(depth.shape)}")
        depth = depth[0]
    if valid is None:
        valid = torch.isfinite(depth) & (depth > 0)
    else:
        valid = check_tensor(_as_tensor(valid, "valid"), "valid", dtype="bool").reshape(depth.shape)
    shown = 1 / depth if inverse else depth
    ax = _new_axes(ax)
    image = ax.imshow(
        np.ma.masked_array(_numpy(shown.float()), mask=_numpy(~valid)),
        cmap=plt.get_cmap(cmap).with_extremes(bad=IGNORE_COLOR),
        vmin=vmin,
        vmax=vmax,
    )
    default = "inverse depth [1/m]" if inverse else "depth [m]"
    ax.figure.colorbar(image, ax=ax, label=default if label is None else label, shrink=0.8)
    ax.set(xticks=[], yticks=[])
    return ax


def _normal_colors(normals: Tensor) -> Tensor:
    """``(n + 1) / 2`` of (3, H, W) normals as (H, W, 3) RGB in [0, 1]."""
    return ((normals.permute(1, 2, 0).float() + 1) / 2).clamp(0, 1)


def show_normals(normals: Tensor, valid: Tensor | None = None, ax: Axes | None = None, key: bool = True) -> Axes:
    """Draw unit surface normals as colours, ``rgb = (n + 1) / 2`` (x → red, y → green, z → blue).

    Args:
        normals (Tensor[3, H, W]): float unit normals in camera coordinates.
        valid (Tensor[H, W], optional): bool mask; other pixels white.
        ax (Axes, optional): where to draw. Default: a new figure.
        key (bool): add a colour key in the corner: a sphere seen by the camera, each point in its normal's
            colour (right, down and towards the camera are x, y and -z).

    Returns:
        Axes: the axes drawn on.
    """
    normals = _check_image(normals, "normals")
    rgb = _normal_colors(normals)
    if valid is not None:
        valid = check_tensor(_as_tensor(valid, "valid"), "valid", dtype="bool").reshape(rgb.shape[:2])
        rgb = torch.where(valid[..., None], rgb, torch.tensor(IGNORE_COLOR, device=rgb.device))
    ax = _new_axes(ax)
    ax.imshow(_numpy(rgb), interpolation="nearest")
    ax.set(xticks=[], yticks=[])
    if key:
        u = torch.linspace(-1, 1, 65)
        y, x = torch.meshgrid(u, u, indexing="ij")
        inside = x**2 + y**2 <= 1
        sphere = torch.stack([x, y, -(1 - x**2 - y**2).clamp(min=0).sqrt()])  # facing the camera
        disk = torch.where(inside[..., None], _normal_colors(sphere), torch.ones(3))
        inset = ax.inset_axes((0.76, 0.02, 0.22, 0.22))
        inset.imshow(_numpy(disk), interpolation="bilinear")
        inset.set_axis_off()
        inset.set_title("key", fontsize=7, pad=1)
    return ax


def _points_last(x: Tensor, name: str) -> Tensor:
    """``(N, 3)``, ``(H, W, 3)`` or ``(3, H, W)`` to ``(N, 3)``."""
    if x.dim() == 2 and x.shape[1] == 3:
        return x
    if x.dim() == 3 and x.shape[-1] == 3:
        return x.reshape(-1, 3)
    if x.dim() == 3 and x.shape[0] == 3:
        return x.permute(1, 2, 0).reshape(-1, 3)
    raise ValueError(f"{name}: expected a tensor of shape (N, 3), (H, W, 3) or (3, H, W), got shape {tuple(x.shape)}")


def plot_point_cloud(
    points: Tensor,
    colors: Tensor | None = None,
    valid: Tensor | None = None,
    max_points: int = 20_000,
    ax: Axes | None = None,
    seed: int = 0,
    point_size: float = 1.0,
) -> Axes:
    """Scatter a 3-D point cloud in camera coordinates, seen with the camera's up pointing up.

    The camera frame is x right, y down, z forward; the plot shows x, z and -y on its three axes. Points that
    are not finite or not ``valid`` are dropped; above ``max_points`` a seeded random subset is drawn.

    Args:
        points (Tensor[N, 3], Tensor[H, W, 3] or Tensor[3, H, W]): float coordinates in metres.
        colors (Tensor, optional): float RGB in [0, 1] per point, same layout as ``points`` (e.g. the image).
        valid (Tensor[N] or Tensor[H, W], optional): bool mask of points to draw.
        max_points (int): most points drawn.
        ax (Axes, optional): a 3-D axes (``projection="3d"``). Default: a new figure.
        seed (int): seed of the subset.
        point_size (float): marker size.

    Returns:
        Axes: the 3-D axes drawn on.
    """
    points = check_tensor(_as_tensor(points, "points"), "points", ndim=(2, 3), dtype="float")
    xyz = _points_last(points, "points").float()
    keep = torch.isfinite(xyz).all(1)
    if valid is not None:
        keep &= check_tensor(_as_tensor(valid, "valid"), "valid", dtype="bool").reshape(-1).to(keep.device)
    rgb = None
    if colors is not None:
        rgb = _points_last(check_tensor(_as_tensor(colors, "colors"), "colors", ndim=(2, 3)), "colors").float()
        if rgb.shape != xyz.shape:
            raise ValueError(f"colors: expected one colour per point ({xyz.shape[0]}), got {rgb.shape[0]}")
    index = keep.nonzero().squeeze(1).cpu()
    max_points = check_int(max_points, "max_points")
    if index.numel() > max_points:
        pick = torch.randperm(index.numel(), generator=torch.Generator().manual_seed(seed))[:max_points]
        index = index[pick]
    xyz = _numpy(xyz.cpu()[index])
    ax = _new_axes(ax, projection="3d")
    ax.scatter(
        xyz[:, 0], xyz[:, 2], -xyz[:, 1],
        c=None if rgb is None else _numpy(rgb.cpu()[index].clamp(0, 1)),
        s=point_size, depthshade=False,
    )  # fmt: skip
    ax.set_xlabel("x [m]")
    ax.set_ylabel("z (forward) [m]")
    ax.set_zlabel("-y (up) [m]")
    if len(xyz):
        ax.set_box_aspect(np.ptp(xyz[:, [0, 2, 1]], axis=0) + 1e-6)
    return ax


# ------------------------------------------------------------------------------------------------- training


def plot_history(history: Any, size: float = 3.5) -> Figure:
    """Training curves per epoch: train / val loss, then one plot per validation metric.

    Args:
        history (cvlab.train.History or dict): the result of ``cvlab.train.fit`` or its ``as_dict()``.
        size (float): size of one plot in inches.

    Returns:
        Figure: one axis for the loss and one per metric.
    """
    data = history.as_dict() if hasattr(history, "as_dict") else history
    if not isinstance(data, Mapping) or "train_loss" not in data:
        raise TypeError(f"history: expected a cvlab.train.History or its as_dict(), got {type(history).__name__}")
    metrics = dict(data.get("val_metrics") or {})
    fig, axes = plt.subplots(
        1,
        1 + len(metrics),
        figsize=(size * (1 + len(metrics)), size * 0.8),
        squeeze=False,
        layout="constrained",
    )
    loss_ax = axes[0, 0]
    for key in ("train_loss", "val_loss"):
        values = data.get(key) or []
        if values:
            loss_ax.plot(range(1, len(values) + 1), values, marker=".", label=key.replace("_", " "))
    loss_ax.set_title("loss")
    loss_ax.legend()
    for ax, (name, values) in zip(axes[0, 1:], metrics.items(), strict=True):
        ax.plot(range(1, len(values) + 1), values, marker=".", color="C1", label=f"val {name}")
        ax.set_title(name)
    for ax in axes.flat:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return fig
