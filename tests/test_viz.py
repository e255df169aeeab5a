import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cvlab import viz

H, W = 6, 8


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 7, (H, W), generator=torch.Generator().manual_seed(seed))


def _voc_reference(n: int) -> np.ndarray:
    """The PASCAL VOC devkit's colour map, written the devkit's way (bit loop per id)."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


def test_palette_matches_voc_and_is_distinct():
    pal = viz.palette()
    assert pal.dtype == torch.uint8 and pal.shape == (256, 3)
    np.testing.assert_array_equal(pal.numpy(), _voc_reference(256))
    assert len({tuple(c) for c in pal.tolist()}) == 256


def test_class_colors_distinct_stuff_muted_things_saturated():
    colors = viz.class_colors(21, stuff=(0, 1, 2))
    assert colors.shape == (21, 3) and colors.dtype == torch.float32
    assert len({tuple(np.round(c, 4)) for c in colors.tolist()}) == 21
    assert not any(np.allclose(c, viz.IGNORE_COLOR) for c in colors.tolist())
    sat = mcolors.rgb_to_hsv(colors.numpy())[:, 1]
    assert sat[:3].max() < 0.5 and sat[3:7].min() > 0.9
    torch.testing.assert_close(viz.class_colors(8, stuff=()), (1.8 * viz.palette(8).float() / 255).clamp(max=1))


def test_colorize_and_ignore():
    labels = _labels()
    labels[0, 0] = 255
    rgb = viz.colorize(labels, stuff=())
    assert rgb.shape == (H, W, 3) and rgb.dtype == torch.float32
    assert rgb[0, 0].tolist() == list(viz.IGNORE_COLOR)
    table = viz.class_colors(256, stuff=())
    assert torch.equal(rgb[1], table[labels[1]])
    assert viz.colorize(labels[None].repeat(2, 1, 1), stuff=()).shape == (2, H, W, 3)


def test_colorize_accepts_numpy():
    labels = _labels()
    assert torch.equal(viz.colorize(labels.numpy(), stuff=()), viz.colorize(labels, stuff=()))


def test_instance_colors_distinct_and_background_black():
    inst = torch.arange(H * W).reshape(H, W) % 20
    rgb = viz.instance_colors(inst)
    assert rgb.shape == (H, W, 3)
    assert rgb[inst == 0].abs().sum() == 0
    per_id = {int(i): tuple(rgb[inst == i][0].tolist()) for i in inst.unique()}
    assert len(set(per_id.values())) == 20
    assert torch.equal(viz.instance_colors(inst), rgb)  # the same id keeps its colour


def test_colorize_panoptic():
    category = torch.tensor([[0, 3, 3], [3, 3, -1]])
    instance = torch.tensor([[0, 1, 1], [2, 2, 0]])
    rgb = viz.colorize_panoptic(torch.stack([category, instance], -1), stuff=(0, 1, 2))
    assert rgb.shape == (2, 3, 3)
    assert rgb[1, 2].tolist() == list(viz.IGNORE_COLOR)
    assert torch.equal(rgb[0, 0], viz.class_colors(8, stuff=(0, 1, 2))[0])
    assert torch.equal(rgb[0, 1], rgb[0, 2]) and not torch.equal(rgb[0, 1], rgb[1, 0])


def test_overlay_blends_and_keeps_ignored_pixels():
    image = torch.rand(3, H, W, generator=torch.Generator().manual_seed(1))
    labels = _labels()
    labels[0] = 255
    out = viz.overlay(image, labels, alpha=0.25, stuff=())
    colors = viz.colorize(labels, stuff=())
    rgb = image.permute(1, 2, 0)
    torch.testing.assert_close(out[1:], 0.75 * rgb[1:] + 0.25 * colors[1:])
    torch.testing.assert_close(out[0], rgb[0])


def test_error_map_kinds():
    target = torch.tensor([[0, 1, 255]])
    pred = torch.tensor([[0, 2, 1]])
    rgb = viz.error_map(pred, target)
    assert rgb[0, 0].tolist() == pytest.approx([0.2, 0.2, 0.2])
    assert rgb[0, 1, 0] > 0.8 and rgb[0, 1, 1] < 0.2
    assert rgb[0, 2].tolist() == list(viz.IGNORE_COLOR)


def test_panel_auto_detects_every_kind():
    labels = _labels()
    entries = {
        "image": torch.rand(3, H, W),
        "image hwc": torch.rand(H, W, 3).numpy(),
        "uint8": torch.randint(0, 256, (3, H, W), dtype=torch.uint8),
        "batched": torch.rand(1, 3, H, W),
        "labels": labels,
        "map": torch.rand(H, W),
        "depth 1HW": torch.rand(1, H, W),
        "mask": labels > 3,
        "panoptic": torch.stack([labels, (labels > 2).long()], -1),
        "errors": viz.error_map(labels, _labels(1)),
    }
    fig = viz.panel(entries, ncols=4)
    assert isinstance(fig, Figure)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == list(entries)
    assert all(ax.images for ax in titled)
    assert len(fig.axes) == 12 + 2  # 3 x 4 grid and two colour bars


def test_panel_list_with_titles():
    fig = viz.panel([torch.rand(3, H, W), _labels()], titles=["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "message"),
    [
        ({"x": torch.rand(2, 3, H, W)}, {}, ValueError, r"x: expected a float \(3, H, W\)"),
        ({"x": torch.randint(0, 3, (4, H, W))}, {}, ValueError, r"x: expected"),
        ([torch.rand(H)], {}, ValueError, r"images\[0\]: expected"),
        ({}, {}, ValueError, "images: expected at least one"),
        (torch.rand(3, H, W), {}, TypeError, "images: expected a dict or a list"),
        ([torch.rand(H, W)], {"titles": ["a", "b"]}, ValueError, "titles: expected 1 titles"),
        ({"x": [1, 2]}, {}, TypeError, "x: expected a tensor"),
    ],
)
def test_panel_bad_input(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        viz.panel(images, **kwargs)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: viz.colorize(torch.rand(H, W)), TypeError, "labels: expected an integer tensor"),
        (lambda: viz.colorize(torch.zeros(W, dtype=torch.long)), ValueError, "labels: expected a tensor"),
        (
            lambda: viz.colorize(torch.tensor([[0, 300]])),
            ValueError,
            r"labels: expected class ids in \[0, 256",
        ),
        (lambda: viz.instance_colors(torch.tensor([[0, -2]])), ValueError, "instance: expected ids >= 0"),
        (lambda: viz.instance_colors(torch.rand(H, W)), TypeError, "instance: expected an integer"),
        (
            lambda: viz.colorize_panoptic(torch.zeros(H, W, 3, dtype=torch.int)),
            ValueError,
            "panoptic: expected",
        ),
        (lambda: viz.overlay(torch.rand(H, W), _labels()), ValueError, "image: expected a tensor"),
        (lambda: viz.overlay(torch.rand(3, H, W), _labels().float()), TypeError, "labels: expected an int"),
        (lambda: viz.overlay(torch.rand(3, H, W + 1), _labels()), ValueError, "image and labels"),
        (lambda: viz.overlay(torch.rand(3, H, W), _labels(), alpha=2), ValueError, "alpha: expected"),
        (lambda: viz.error_map(_labels(), _labels()[:2]), ValueError, "pred and target: expected the same"),
        (lambda: viz.palette(0), ValueError, "num_classes: expected an int >= 1"),
        (lambda: viz.show_depth(torch.rand(2, H, W)), ValueError, r"depth: expected a tensor of shape"),
        (lambda: viz.show_depth(_labels()), TypeError, "depth: expected a floating"),
        (lambda: viz.show_normals(torch.rand(2, H, W)), ValueError, r"normals: expected a tensor of"),
        (lambda: viz.plot_point_cloud(torch.rand(10, 2)), ValueError, r"points: expected a tensor of"),
        (
            lambda: viz.plot_point_cloud(torch.rand(9, 3), colors=torch.rand(8, 3)),
            ValueError,
            "colors: expected",
        ),
        (lambda: viz.plot_history([1, 2]), TypeError, "history: expected"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_show_depth_masks_invalid_and_inverse():
    depth = torch.rand(H, W) + 1
    depth[0, 0] = 0.0
    ax = viz.show_depth(depth)
    assert isinstance(ax, Axes)
    shown = ax.images[0].get_array()
    assert shown.mask[0, 0] and not shown.mask[1, 1]
    assert ax.images[0].colorbar.ax.get_ylabel() == "depth [m]"
    valid = torch.ones(H, W, dtype=torch.bool)
    valid[2, 2] = False
    ax = viz.show_depth(depth[None], valid=valid, inverse=True)
    shown = ax.images[0].get_array()
    assert shown.mask[2, 2] and shown[1, 1] == pytest.approx(1 / float(depth[1, 1]))
    assert ax.images[0].colorbar.ax.get_ylabel() == "inverse depth [1/m]"


def test_panel_legend_names_the_classes_shown_in_their_colours():
    labels = torch.tensor([[0, 1], [4, 255]])
    panoptic = torch.tensor([[[3, 1], [-1, 0]], [[1, 0], [1, 0]]])
    names = ("sky", "ground", "wall", "sphere", "box", "cylinder", "cone")
    fig = viz.panel({"labels": labels, "panoptic": panoptic, "image": torch.rand(3, 2, 2)}, class_names=names)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["sky", "ground", "sphere", "box"]  # not 255, not void
    colors = viz.class_colors(256)
    for patch, c in zip(legend.get_patches(), (0, 1, 3, 4), strict=True):
        np.testing.assert_allclose(patch.get_facecolor()[:3], colors[c].tolist(), atol=1e-6)
    assert not viz.panel({"labels": labels}).legends  # no names, no legend


@pytest.mark.parametrize("names, error, message", [
    ("sky", TypeError, "class_names: expected a sequence of str"),
    (("sky", "ground"), ValueError, "class_names: .* do not cover class 4"),
])
def test_panel_legend_bad_names(names, error, message):
    with pytest.raises(error, match=message):
        viz.panel({"labels": torch.tensor([[0, 1], [4, 1]])}, class_names=names)


def test_show_normals_key_is_a_sphere_in_the_same_colours():
    ax = viz.show_normals(torch.nn.functional.normalize(torch.randn(3, 8, 9), dim=0))
    (inset,) = ax.child_axes
    disk = inset.images[0].get_array()
    centre, right, bottom = disk[32, 32], disk[32, 63], disk[63, 32]
    np.testing.assert_allclose(centre, [0.5, 0.5, 0.0], atol=1e-6)  # facing the camera: n = (0, 0, -1)
    assert right[0] > 0.95 and bottom[1] > 0.95  # right is +x (red), down is +y (green)
    assert not viz.show_normals(torch.zeros(3, 4, 4), key=False).child_axes


def test_show_normals_maps_to_unit_cube():
    normals = torch.zeros(3, H, W)
    normals[2] = -1.0  # facing the camera
    ax = viz.show_normals(normals)
    np.testing.assert_allclose(ax.images[0].get_array()[0, 0], [0.5, 0.5, 0.0])


def test_plot_point_cloud_layouts_and_subsampling():
    points = torch.randn(H, W, 3)
    points[0, 0] = float("nan")
    ax = viz.plot_point_cloud(points, colors=torch.rand(3, H, W), max_points=10)
    assert ax.name == "3d"
    assert ax.collections[0].get_offsets().shape[0] == 10
    valid = torch.zeros(H, W, dtype=torch.bool)
    valid[:2] = True
    ax = viz.plot_point_cloud(points.permute(2, 0, 1), valid=valid)
    assert ax.collections[0].get_offsets().shape[0] == 2 * W - 1  # the NaN point is dropped too


def test_plot_history_from_dict_and_object():
    data = {
        "train_loss": [1.0, 0.5],
        "val_loss": [1.2, 0.7],
        "val_metrics": {"seg/miou": [0.2, 0.4], "seg/pixel_acc": [0.5, 0.6]},
    }

    class FakeHistory:
        def as_dict(self):
            return data

    for history in (data, FakeHistory()):
        fig = viz.plot_history(history)
        assert [ax.get_title() for ax in fig.axes] == ["loss", "seg/miou", "seg/pixel_acc"]
        assert len(fig.axes[0].lines) == 2
