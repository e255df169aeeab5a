"""Pictures that explain RoI pooling and detection: boxes, RoIPool's rounded bins vs RoIAlign's sample points.

Each picture is computed by the same code as the ops (`cvlab.ops.roi`), so what is drawn is what they do.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from cvlab._validate import check_tensor
from cvlab.ops.arithmetic import _pair
from cvlab.ops.roi import _pool_bins, _round_half_away, _sample_positions


def draw_boxes(ax: Axes, boxes: torch.Tensor, color: str = "yellow", labels: list[str] | None = None,
               linestyle: str = "-", linewidth: float = 1.5) -> Axes:
    """Outline boxes (Tensor[N, 4] ``(x1, y1, x2, y2)`` in pixel-edge coordinates) on an image axis."""
    check_tensor(boxes, "boxes", ndim=2, shape="(N, 4)", dtype="float")
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        # imshow puts pixel centres at integers: an edge coordinate e sits at e - 0.5
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               linestyle=linestyle, linewidth=linewidth))
        if labels is not None:
            ax.text(x1 - 0.5, y1 - 1, labels[i], color=color, fontsize=8, va="bottom")
    return ax


def roi_pool_bins(box: torch.Tensor, output_size: int | tuple[int, int], spatial_scale: float) -> torch.Tensor:
    """The feature-pixel bins RoIPool maxes over for one box (Tensor[4], image pixels).

    Returns Tensor[h, w, 4] int64 ``(x_start, y_start, x_end, y_end)``, ends exclusive, clipped to nothing.
    """
    check_tensor(box, "box", ndim=1, shape="(4,)", dtype="float")
    ph, pw = _pair(output_size, "output_size", minimum=1)
    x1, y1, x2, y2 = _round_half_away(box * spatial_scale).long().view(4, 1)
    big = 10**6  # no clipping: show the bins as RoIPool computes them before it meets the border
    rows, row_ok = _pool_bins(y1, y2, ph, big, box.dtype)
    cols, col_ok = _pool_bins(x1, x2, pw, big, box.dtype)
    ys, ye = rows[0, :, 0], rows[0, :, 0] + row_ok[0].sum(1)
    xs, xe = cols[0, :, 0], cols[0, :, 0] + col_ok[0].sum(1)
    return torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None], xe[None, :], ye[:, None]), dim=-1)


def roi_align_points(box: torch.Tensor, output_size: int | tuple[int, int], spatial_scale: float,
                     sampling_ratio: int = 2, aligned: bool = True) -> torch.Tensor:
    """RoIAlign's sample points for one box (Tensor[4], image pixels), in feature-pixel coordinates (centres at
    integers). Returns Tensor[P, 2] ``(x, y)``."""
    check_tensor(box, "box", ndim=1, shape="(4,)", dtype="float")
    ph, pw = _pair(output_size, "output_size", minimum=1)
    b = box * spatial_scale - (0.5 if aligned else 0.0)
    ys, gy = _sample_positions(b[1:2], b[3:4], ph, sampling_ratio, aligned)
    xs, gx = _sample_positions(b[0:1], b[2:3], pw, sampling_ratio, aligned)
    ys, xs = ys[0, :, : int(gy[0])].flatten(), xs[0, :, : int(gx[0])].flatten()
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], dim=1)


def draw_pool_vs_align(box: torch.Tensor, feature_size: int | tuple[int, int], spatial_scale: float,
                       output_size: int = 2, sampling_ratio: int = 2) -> plt.Figure:
    """Side by side on the feature grid: the exact box, RoIPool's rounded bins, RoIAlign's bins and sample points."""
    fh, fw = _pair(feature_size, "feature_size", minimum=1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    exact = (box * spatial_scale).tolist()
    bins = roi_pool_bins(box, output_size, spatial_scale).view(-1, 4).tolist()
    points = roi_align_points(box, output_size, spatial_scale, sampling_ratio)
    for ax, title in zip(axes, ("RoIPool: rounded to whole cells", "RoIAlign: exact box, bilinear samples"),
                         strict=True):
        ax.set_xlim(-0.5, fw - 0.5)
        ax.set_ylim(fh - 0.5, -0.5)
        ax.set_xticks([x - 0.5 for x in range(fw + 1)], [])
        ax.set_yticks([y - 0.5 for y in range(fh + 1)], [])
        ax.grid(True, color="0.8")
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.add_patch(Rectangle((exact[0] - 0.5, exact[1] - 0.5), exact[2] - exact[0], exact[3] - exact[1],
                               fill=False, edgecolor="black", linewidth=2, label="box"))
    for x1, y1, x2, y2 in bins:
        axes[0].add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, alpha=0.3, edgecolor="tab:red",
                                    facecolor="tab:red"))
    e = exact
    for i in range(output_size + 1):
        axes[1].plot([e[0] - 0.5 + (e[2] - e[0]) * i / output_size] * 2, [e[1] - 0.5, e[3] - 0.5], "b--", lw=1)
        axes[1].plot([e[0] - 0.5, e[2] - 0.5], [e[1] - 0.5 + (e[3] - e[1]) * i / output_size] * 2, "b--", lw=1)
    axes[1].plot(points[:, 0], points[:, 1], "o", color="tab:blue", ms=5)
    return fig
