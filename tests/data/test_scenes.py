"""The rendered world: exact labels, checked against implicit surfaces written here and ray marching."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from cvlab.data import CLASS_NAMES, STUFF_CLASSES, THING_CLASSES, Scene, render_scene
from cvlab.geometry import normals_from_depth

SEEDS = range(6)
SIZE = (48, 64)


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    return [render_scene(seed, SIZE) for seed in SEEDS]


def world_points(scene: Scene) -> torch.Tensor:
    """Back-project every pixel, X_c = depth K^-1 [u + 0.5, v + 0.5, 1], to X_w = R X_c + C: (H, W, 3)."""
    h, w = scene.depth.shape
    v, u = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    pix = torch.stack([u + 0.5, v + 0.5, torch.ones_like(u)], dim=-1)
    cam = scene.depth.double()[..., None] * (pix @ torch.linalg.inv(scene.K.double()).T)
    pose = scene.cam_to_world.double()
    return cam @ pose[:3, :3].T + pose[:3, 3]


def implicit(obj, p: torch.Tensor) -> torch.Tensor:
    """A function of the solid, zero on its surface, negative inside, written from SceneObject's docstring."""
    c = torch.tensor(obj.center, dtype=p.dtype)
    cos, sin = math.cos(obj.yaw), math.sin(obj.yaw)
    rot = torch.tensor([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]], dtype=p.dtype)
    q = (p - c) @ rot  # local = R_y^T (p - c), as rows
    rho = torch.sqrt(q[..., 0] ** 2 + q[..., 2] ** 2)
    name = CLASS_NAMES[obj.class_id]
    if name == "sphere":
        return q.norm(dim=-1) - obj.size[0]
    if name == "box":
        return (q.abs() - torch.tensor(obj.size, dtype=p.dtype)).amax(dim=-1)
    r, hh = obj.size
    if name == "cylinder":
        return torch.maximum(rho - r, q[..., 1].abs() - hh)
    k = r / (2 * hh)
    below_apex = q[..., 1] + hh
    lateral = (rho - k * below_apex) / math.sqrt(1 + k * k)
    return torch.maximum(lateral, below_apex - 2 * hh)


def test_depth_backprojects_onto_the_surfaces(scenes):
    for scene in scenes:
        p = world_points(scene)
        ground = scene.semantic == 1
        assert p[ground][:, 1].abs().max() < 1e-3
        wall = scene.semantic == 2
        plane = scene.wall_plane.double()
        assert abs(plane[:3].norm() - 1) < 1e-6 and plane[1] == 0
        assert (p[wall] @ plane[:3] - plane[3]).abs().max() < 1e-3
        assert (p[wall][:, 1] >= -scene.wall_height - 1e-3).all()
        for obj in scene.objects:
            mask = scene.instance == obj.instance_id
            assert mask.any()
            assert implicit(obj, p[mask]).abs().max() < 1e-3, CLASS_NAMES[obj.class_id]
            assert (p[mask][:, 1] <= 1e-3).all()  # things stand on the ground, never below it


def test_normals_are_unit_facing_the_camera_and_match_the_surface_gradient(scenes):
    for scene in scenes:
        n = scene.normals.permute(1, 2, 0).double()
        valid = scene.valid
        assert torch.allclose(
            n[valid].norm(dim=-1), torch.ones(int(valid.sum()), dtype=torch.float64), atol=1e-4
        )
        assert (n[~valid] == 0).all()
        h, w = scene.depth.shape
        v, u = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        rays = torch.stack([u, v, torch.ones_like(u)], -1).double() @ torch.linalg.inv(scene.K.double()).T
        assert ((n * rays).sum(-1)[valid] < 0).all()

        # world-frame normals against autograd gradients of the implicit functions and the plane normals
        rot = scene.cam_to_world[:3, :3].double()
        n_world = n @ rot.T
        assert torch.allclose(
            n_world[scene.semantic == 1], torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64), atol=1e-5
        )
        assert torch.allclose(n_world[scene.semantic == 2], -scene.wall_plane[:3].double(), atol=1e-5)
        p = world_points(scene)
        for obj in scene.objects:
            mask = scene.instance == obj.instance_id
            pts = p[mask].clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(implicit(obj, pts).sum(), pts)
            cos = (grad / grad.norm(dim=-1, keepdim=True) * n_world[mask]).sum(-1)
            assert (cos > 0.999).float().mean() > 0.99  # a pixel on a box edge may take either face


def test_plane_normals_agree_with_normals_from_depth(scenes):
    """cvlab.geometry differentiates the back-projected depth: exact on a plane, away from its borders."""
    for scene in scenes:
        estimate = normals_from_depth(scene.depth.double(), scene.K.double())
        for cls in (1, 2):  # ground, wall
            mask = (scene.semantic == cls).double()[None, None]
            interior = (-F.max_pool2d(-mask, 3, stride=1, padding=1))[0, 0].bool()
            interior[[0, -1]] = interior[:, [0, -1]] = False
            cos = (estimate * scene.normals.double()).sum(0)[interior]
            assert interior.any() and cos.min() > 0.9999


def test_label_maps_are_consistent(scenes):
    for scene in scenes:
        sky = scene.semantic == 0
        assert torch.equal(sky, ~scene.valid) and torch.equal(sky, scene.depth == 0)
        assert (scene.depth[~sky] > 0).all()
        assert scene.semantic.dtype == scene.instance.dtype == scene.panoptic.dtype == torch.int64
        assert scene.semantic.min() >= 0 and scene.semantic.max() < len(CLASS_NAMES)
        assert torch.equal(scene.panoptic, torch.stack([scene.semantic, scene.instance], dim=-1))
        things = torch.isin(scene.semantic, torch.tensor(THING_CLASSES))
        assert torch.equal(things, scene.instance > 0)
        ids = [obj.instance_id for obj in scene.objects]
        assert ids == list(range(1, len(ids) + 1))
        assert sorted(scene.instance.unique().tolist()) == [0, *ids]  # 0: the stuff (always in view)
        for obj in scene.objects:
            assert scene.semantic[scene.instance == obj.instance_id].unique().tolist() == [obj.class_id]
        assert scene.image.dtype == torch.float32 and scene.image.shape == (3, *SIZE)
        assert 0 <= scene.image.min() and scene.image.max() <= 1
        assert (
            scene.class_names == CLASS_NAMES
            and scene.things == THING_CLASSES
            and scene.stuff == STUFF_CLASSES
        )


def test_every_class_appears_and_things_occlude(scenes):
    seen = torch.cat([s.semantic.unique() for s in scenes]).unique().tolist()
    assert seen == list(range(len(CLASS_NAMES)))
    # occlusion: some instance borders another instance (not only stuff)
    touching = 0
    for s in scenes:
        a, b = s.instance[:, 1:], s.instance[:, :-1]
        touching += int(((a != b) & (a > 0) & (b > 0)).sum())
    assert touching > 0


def test_shadows_only_darken_where_a_ray_to_the_light_meets_a_thing():
    for seed in range(3):
        kwargs = dict(size=SIZE, textures=False, n_objects=4)
        lit, flat = render_scene(seed, shadows=True, **kwargs), render_scene(seed, shadows=False, **kwargs)
        assert torch.equal(lit.depth, flat.depth) and torch.equal(lit.semantic, flat.semantic)
        assert (lit.image <= flat.image + 1e-6).all()
        shadowed = (lit.image < flat.image - 1e-4).any(0)
        # independent ray marching from the ground points towards the light
        ground = lit.semantic == 1
        p = world_points(lit)[ground].float()
        top = max(
            -obj.center[1] * 2 for obj in lit.objects
        )  # above the tallest thing, nothing casts a shadow
        steps = torch.linspace(1e-3, top / -lit.light[1].item(), 300)
        marched = p[:, None, :] + steps[:, None] * lit.light
        inside = torch.zeros(len(p), dtype=torch.bool)
        for obj in lit.objects:
            inside |= (implicit(obj, marched) < 0).any(1)
        agree = (inside == shadowed[ground]).float().mean()
        assert agree > 0.98  # marching steps can miss a grazing ray; hidden things also cast shadows


def test_textures_off_gives_flat_colours_per_surface():
    scene = render_scene(3, SIZE, textures=False, shadows=False)
    ground = scene.image[:, scene.semantic == 1]
    assert ground.std(dim=1).max() < 1e-5  # one albedo, one normal, no shadow: one colour
    textured = render_scene(3, SIZE, shadows=False)
    assert torch.equal(textured.depth, scene.depth)


def test_deterministic_and_seed_dependent():
    a, b, c = render_scene(11, 40), render_scene(11, 40), render_scene(12, 40)
    for name in (
        "image",
        "semantic",
        "instance",
        "panoptic",
        "depth",
        "valid",
        "normals",
        "K",
        "cam_to_world",
    ):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.objects == b.objects
    assert not torch.equal(a.image, c.image) and not torch.equal(a.depth, c.depth)
    state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state()
    render_scene(13, 16, noise=0.05)
    assert np.array_equal(np.random.get_state()[1], state) and torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize("size", [(40, 72), (72, 40), 33])
def test_non_square_sizes(size):
    scene = render_scene(5, size)
    h, w = (size, size) if isinstance(size, int) else size
    assert scene.image.shape == (3, h, w) and scene.normals.shape == (3, h, w)
    assert scene.semantic.shape == scene.depth.shape == scene.valid.shape == (h, w)
    assert scene.panoptic.shape == (h, w, 2)
    assert scene.K[0, 2] == w / 2 and scene.K[1, 2] == h / 2 and scene.K[0, 0] == scene.K[1, 1]
    assert scene.valid.any() and (~scene.valid).any()  # ground and sky both in view


def test_rare_knob_sets_the_frequency_of_cones():
    def cone_share(rare, n_seeds=200):
        classes = [o.class_id for seed in range(n_seeds) for o in render_scene(seed, 32, rare=rare).objects]
        return np.mean(np.array(classes) == CLASS_NAMES.index("cone")), len(classes)

    share, n = cone_share(0.0, 50)
    assert share == 0 and n > 100
    assert cone_share(1.0, 50)[0] == 1
    # small cones are hidden more often than the others: their share of the visible things is below `rare`
    for rare in (0.15, 0.5):
        share, n = cone_share(rare)
        assert 0.75 * rare < share < rare + 3 * math.sqrt(rare * (1 - rare) / n), (rare, share)


def test_cones_are_small_and_rare_in_pixels_by_default():
    counts = torch.zeros(len(CLASS_NAMES))
    for seed in range(60):
        counts += torch.bincount(render_scene(seed, 32).semantic.ravel(), minlength=len(CLASS_NAMES))
    cone, others = counts[CLASS_NAMES.index("cone")], counts[3:6].min()
    assert 0 < cone < others / 5


def test_colour_does_not_identify_the_class():
    """A classifier of the mean chromaticity of each visible thing (shading divided out) stays at chance."""
    features, labels = [], []
    for seed in range(150):
        scene = render_scene(seed, 40, rare=0.4)
        for obj in scene.objects:
            mask = scene.instance == obj.instance_id
            if mask.sum() >= 10:
                rgb = scene.image[:, mask].mean(1)
                features.append((rgb[:2] / rgb.sum()).numpy())
                labels.append(obj.class_id)
    labels = np.array(labels)
    assert np.bincount(labels)[3:].min() >= 40
    model = LogisticRegression(max_iter=500)
    scores = cross_val_score(model, np.array(features), labels, cv=5, scoring="balanced_accuracy")
    assert scores.mean() < 0.25 + 0.07, scores  # chance: 1 / 4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(size=0), "size"),
        (dict(size=(32, -1)), "size"),
        (dict(size=(1, 2, 3)), "size"),
        (dict(n_objects=-1), "n_objects"),
        (dict(n_objects=(5, 2)), "n_objects"),
        (dict(object_size=(0.0, 0.5)), "object_size"),
        (dict(object_size=(0.9, 0.3)), "object_size"),
        (dict(object_size=0.5), "object_size"),
        (dict(rare=-0.1), "rare"),
        (dict(rare=1.5), "rare"),
        (dict(noise=-1.0), "noise"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        render_scene(0, **kwargs)


def test_bad_seed_type():
    with pytest.raises(TypeError, match="seed"):
        render_scene(1.5)
    with pytest.raises(ValueError, match="seed"):
        render_scene(-1)
