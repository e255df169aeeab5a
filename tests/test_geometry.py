import math

import pytest
import torch
import torch.nn.functional as F

from cvlab.geometry import backproject, depth_to_points, normals_from_depth, pixel_rays, project

K = torch.tensor([[80.0, 0.0, 33.0], [0.0, 70.0, 20.0], [0.0, 0.0, 1.0]])


def test_backproject_reprojects_to_pixel_centres():
    depth = torch.rand(40, 64) * 5 + 1
    points = backproject(depth, K)
    assert points.shape == (3, 40, 64)
    torch.testing.assert_close(points[2], depth)
    projected = torch.einsum("ij,jhw->ihw", K, points)
    v, u = torch.meshgrid(torch.arange(40.0), torch.arange(64.0), indexing="ij")
    torch.testing.assert_close(projected[0] / projected[2], u + 0.5)
    torch.testing.assert_close(projected[1] / projected[2], v + 0.5)


def test_backproject_batch_shapes_dtype_and_per_image_K():
    depth = torch.rand(2, 1, 5, 6, dtype=torch.float64) + 1
    Ks = torch.stack([K, 2 * K]).double()
    Ks[:, 2, 2] = 1
    points = backproject(depth, Ks)
    assert points.shape == (2, 3, 5, 6) and points.dtype == torch.float64
    torch.testing.assert_close(points[1], backproject(depth[1, 0], Ks[1]))
    assert pixel_rays(K, 5, 6).shape == (3, 5, 6)


def _plane_depth(normal: torch.Tensor, offset: float, h: int, w: int) -> torch.Tensor:
    """Depth of the plane n . X = offset seen through K: z = offset / (n . ray)."""
    rays = pixel_rays(K.double(), h, w)
    return offset / torch.einsum("c,chw->hw", normal.double(), rays)


def test_normals_of_a_tilted_plane_are_its_normal():
    normal = F.normalize(torch.tensor([0.3, -0.5, -1.0]), dim=0)  # faces the camera (negative z)
    depth = _plane_depth(normal, -4.0, 30, 40)
    assert (depth > 0).all()
    normals = normals_from_depth(depth, K.double())
    torch.testing.assert_close(normals, normal.double()[:, None, None].expand(3, 30, 40), atol=1e-6, rtol=0)


def test_normals_match_the_rendered_scene():
    from cvlab.data import render_scene

    scene = render_scene(3, size=(96, 128))
    normals = normals_from_depth(scene.depth.double(), scene.K.double()).float()
    # compare on pixels whose 3x3 neighbourhood lies on one surface (differences across edges are meaningless)
    label = scene.semantic * 1000 + scene.instance
    same = torch.ones_like(label, dtype=torch.bool)
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            same &= torch.roll(label, (dv, du), (0, 1)) == label
    same[[0, -1], :] = False
    same[:, [0, -1]] = False
    same &= scene.valid
    cos = (normals * scene.normals).sum(0)[same].clamp(-1, 1)
    angle = torch.rad2deg(torch.acos(cos))
    assert same.sum() > 1000
    assert angle.median() < 1.0, f"median angular error {angle.median():.2f} deg"
    assert (angle < 10).float().mean() > 0.95


def test_normals_face_the_camera():
    depth = torch.rand(16, 16) + 2
    normals = normals_from_depth(depth, K)
    assert ((normals * backproject(depth, K)).sum(0) <= 0).all()
    torch.testing.assert_close(normals.norm(dim=0), torch.ones(16, 16))


@pytest.mark.parametrize(
    "depth, K_, error, match",
    [
        (torch.ones(4), K, ValueError, r"depth: expected a tensor of shape \(H, W\)"),
        (torch.ones(4, 4, dtype=torch.long), K, TypeError, "depth: expected a floating tensor"),
        (torch.ones(2, 3, 4, 4), K, ValueError, r"depth: expected one channel"),
        (torch.ones(4, 4), torch.eye(4), ValueError, r"K: expected intrinsics of shape \(3, 3\)"),
        (torch.ones(2, 4, 4), torch.eye(3).expand(3, 3, 3), ValueError, r"K: expected one matrix per depth map"),
        (torch.ones(4, 4), torch.full((3, 3), math.nan), ValueError, "K: expected finite values"),
        (torch.ones(4, 4), torch.zeros(3, 3), ValueError, r"K: expected pinhole intrinsics"),
        (torch.ones(4, 4), torch.tensor([[0.0, 0, 2], [0, 5, 2], [0, 0, 1]]), ValueError, "K: expected non-zero focal"),
        (torch.ones(4, 4), torch.tensor([[5.0, 0, 2], [0, 5, 2], [1, 0, 1]]), ValueError, "K: expected pinhole"),
        (torch.ones(4, 4), K.long(), TypeError, "K: expected a floating tensor"),
    ],
)
def test_bad_input(depth, K_, error, match):
    with pytest.raises(error, match=match):
        backproject(depth, K_)


@pytest.mark.parametrize(
    "args, error, match",
    [((K, 0.5, 4), TypeError, "^height:"), ((K, 4, -1), ValueError, "^width:"), ((K[:2], 4, 4), ValueError, "^K:"),
     ((torch.eye(3) * 0, 4, 4), ValueError, "^K:")],
)
def test_pixel_rays_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        pixel_rays(*args)


def test_empty_sizes_give_empty_rays():
    assert pixel_rays(K, 0, 5).shape == (3, 0, 5)
    assert backproject(torch.ones(2, 0, 3), K).shape == (2, 3, 0, 3)


def test_normals_need_two_pixels():
    with pytest.raises(ValueError, match="at least 2x2"):
        normals_from_depth(torch.ones(1, 5), K)


def test_depth_to_points_and_project_round_trip():
    depth = torch.rand(5, 7, dtype=torch.float64) * 3 + 1
    Kd = K.double()
    points = depth_to_points(depth, Kd)
    assert points.shape == (35, 3)
    torch.testing.assert_close(points[:, 2], depth.flatten())
    uv = project(points, Kd)
    v, u = torch.meshgrid(torch.arange(5.0), torch.arange(7.0), indexing="ij")
    torch.testing.assert_close(uv, torch.stack([u.flatten(), v.flatten()], 1).double())
    # x follows the column, y the row (at equal depth); the principal point is where x = y = 0
    flat = depth_to_points(torch.full((5, 7), 2.0, dtype=torch.float64), Kd)
    assert flat[1, 0] > flat[0, 0] and flat[7, 1] > flat[0, 1]
    centre = torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(project(centre, Kd), torch.tensor([[33.0 - 0.5, 20.0 - 0.5]], dtype=torch.float64))


def test_depth_to_points_mask_keeps_row_major_order():
    depth = torch.rand(4, 6) + 1
    mask = torch.rand(4, 6) > 0.5
    points = depth_to_points(depth, K, mask)
    assert points.shape == (int(mask.sum()), 3)
    torch.testing.assert_close(points, backproject(depth, K).permute(1, 2, 0)[mask])
    with pytest.raises(ValueError, match="mask: expected the shape of depth"):
        depth_to_points(depth, K, mask[:2])
    with pytest.raises(ValueError, match="points: expected a last dimension of 3"):
        project(torch.ones(4, 2), K)

def test_pixel_rays_closed_form_equals_the_inverse_of_K_with_skew_and_batches():
    Ks = torch.stack([K, torch.tensor([[50.0, 3.0, 10.0], [0.0, 40.0, 7.0], [0.0, 0.0, 1.0]])]).double()
    v, u = torch.meshgrid(torch.arange(5.0) + 0.5, torch.arange(6.0) + 0.5, indexing="ij")
    pixels = torch.stack([u, v, torch.ones_like(u)]).reshape(3, -1).double()
    expected = (torch.linalg.inv(Ks) @ pixels).reshape(2, 3, 5, 6)
    torch.testing.assert_close(pixel_rays(Ks, 5, 6), expected)


def test_the_scene_renderer_casts_geometrys_rays():
    from cvlab.data.scenes import _pixel_rays

    K_scene, xs, ys, _ = _pixel_rays(24, 32)
    rays = pixel_rays(torch.tensor(K_scene), 24, 32)
    assert torch.equal(rays[0], torch.from_numpy(xs.copy()).expand(24, 32))
    assert torch.equal(rays[1], torch.from_numpy(ys.copy()).expand(24, 32))
