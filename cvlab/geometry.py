"""Pinhole geometry: depth maps to 3-D points, and surface normals from depth.

Pixel convention (the one ``cvlab.data.render_scene`` renders with): pixel ``(u, v)`` (column, row) has its
centre at ``(u + 0.5, v + 0.5)``, and its 3-D point in the camera frame (x right, y down, z forward) is
``X = depth[v, u] * K^-1 [u + 0.5, v + 0.5, 1]^T`` — depth is the z coordinate, not the distance along the ray.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cvlab._validate import check_int, check_tensor

__all__ = ["backproject", "depth_to_points", "normals_from_depth", "pixel_rays", "project"]


def _check_intrinsics(K: object) -> torch.Tensor:
    """``K`` must be finite pinhole intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` with ``fx, fy != 0``."""
    check_tensor(K, "K", ndim=(2, 3), shape="(3, 3) or (B, 3, 3)", dtype="float", finite=True)
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"K: expected intrinsics of shape (3, 3) or (B, 3, 3), got shape {tuple(K.shape)}")
    if K.numel() == 0:
        return K
    lower = K[..., [1, 2, 2, 2], [0, 0, 1, 2]].reshape(-1, 4)
    if not bool((lower == lower.new_tensor([0.0, 0.0, 0.0, 1.0])).all()):
        raise ValueError(f"K: expected pinhole intrinsics [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got rows 2-3 "
                         f"{K.reshape(-1, 3, 3)[0, 1:].tolist()}")
    focal = K[..., [0, 1], [0, 1]]
    if bool((focal == 0).any()):
        raise ValueError(f"K: expected non-zero focal lengths fx, fy (K is singular), got "
                         f"{focal.reshape(-1, 2)[(focal.reshape(-1, 2) == 0).any(1)][0].tolist()}")
    return K


def _as_batch(depth: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check ``depth`` and ``K`` and bring them to ``(B, H, W)`` and ``(B, 3, 3)``."""
    check_tensor(depth, "depth", ndim=(2, 3, 4), shape="(H, W), (B, H, W) or (B, 1, H, W)", dtype="float")
    _check_intrinsics(K)
    single = depth.dim() == 2
    if depth.dim() == 4:
        if depth.shape[1] != 1:
            raise ValueError(f"depth: expected one channel in (B, 1, H, W), got shape {tuple(depth.shape)}")
        depth = depth[:, 0]
    elif single:
        depth = depth[None]
    K = K.to(depth.dtype).expand(depth.shape[0], 3, 3) if K.dim() == 2 else K.to(depth.dtype)
    if K.shape[0] != depth.shape[0]:
        raise ValueError(f"K: expected one matrix per depth map ({depth.shape[0]}), got {K.shape[0]}")
    return depth, K, single


def pixel_rays(K: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Rays through the pixel centres with unit z: ``K^-1 [u + 0.5, v + 0.5, 1]``.

    In closed form for pinhole intrinsics: ``y = (v + 0.5 - cy) / fy``, ``x = (u + 0.5 - cx - s y) / fx``
    (``s`` the skew), the rays ``cvlab.data.render_scene`` casts.

    Args:
        K (Tensor[3, 3] or Tensor[B, 3, 3]): intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels,
            ``fx, fy != 0``.
        height, width: image size in pixels, >= 0.

    Returns:
        Tensor[B, 3, H, W] (or Tensor[3, H, W] for a single ``K``), in K's dtype and device.
    """
    _check_intrinsics(K)
    height, width = check_int(height, "height", minimum=0), check_int(width, "width", minimum=0)
    batch = K if K.dim() == 3 else K[None]
    u = torch.arange(width, dtype=K.dtype, device=K.device) + 0.5
    v = torch.arange(height, dtype=K.dtype, device=K.device) + 0.5
    fx, skew, cx = (batch[:, 0, i, None, None] for i in range(3))
    fy, cy = batch[:, 1, 1, None], batch[:, 1, 2, None]
    y = ((v - cy) / fy)[:, :, None].expand(-1, height, width)  # (B, H, W)
    x = ((u - cx) - skew * y) / fx
    rays = torch.stack([x, y, torch.ones_like(x)], dim=1)
    return rays if K.dim() == 3 else rays[0]


def backproject(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Lift a depth map to 3-D points in the camera frame.

    Args:
        depth (Tensor[H, W], Tensor[B, H, W] or Tensor[B, 1, H, W]): z in metres (invalid pixels give the
            point at the camera centre when their depth is 0).
        K (Tensor[3, 3] or Tensor[B, 3, 3]): intrinsics in pixels.

    Returns:
        Tensor[B, 3, H, W] (Tensor[3, H, W] for a single map): X, Y, Z in metres, ``Z == depth``.

    Example:
        >>> K = torch.tensor([[100., 0, 32], [0, 100., 24], [0, 0, 1]])
        >>> backproject(torch.full((48, 64), 2.0), K).shape
        torch.Size([3, 48, 64])
    """
    depth, K, single = _as_batch(depth, K)
    points = depth[:, None] * pixel_rays(K, *depth.shape[-2:])
    return points[0] if single else points


def depth_to_points(depth: torch.Tensor, K: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The point cloud of one depth map: `backproject` flattened to one row per (valid) pixel.

    Args:
        depth (Tensor[H, W]): z in metres.
        K (Tensor[3, 3]): intrinsics in pixels.
        mask (Tensor[H, W], optional): bool, True on pixels to keep (default: every pixel).

    Returns:
        Tensor[N, 3]: X, Y, Z of the kept pixels in row-major order (``N = H * W`` without a mask).
    """
    check_tensor(depth, "depth", ndim=2, shape="(H, W)", dtype="float")
    points = backproject(depth, K).flatten(1).T
    if mask is None:
        return points
    check_tensor(mask, "mask", ndim=2, shape="(H, W)", dtype="bool")
    if mask.shape != depth.shape:
        raise ValueError(f"mask: expected the shape of depth {tuple(depth.shape)}, got {tuple(mask.shape)}")
    return points[mask.flatten()]


def project(points: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Project camera-frame points to pixel coordinates, the inverse of `backproject`.

    ``(u, v)`` is returned as (column, row) *indices*: the centre of pixel ``(u, v)`` projects to exactly
    ``(u, v)`` (the module's ``+ 0.5`` pixel-centre convention undone), so ``project(depth_to_points(d, K), K)``
    gives every pixel's own index.

    Args:
        points (Tensor[..., 3]): X, Y, Z in metres, Z > 0.
        K (Tensor[3, 3]): intrinsics in pixels.

    Returns:
        Tensor[..., 2]: ``(u, v)`` in pixels, in the points' dtype.
    """
    check_tensor(points, "points", shape="(..., 3)", dtype="float")
    check_tensor(K, "K", ndim=2, shape="(3, 3)", dtype="float", finite=True)
    if points.dim() == 0 or points.shape[-1] != 3:
        raise ValueError(f"points: expected a last dimension of 3 (X, Y, Z), got shape {tuple(points.shape)}")
    if K.shape != (3, 3):
        raise ValueError(f"K: expected intrinsics of shape (3, 3), got shape {tuple(K.shape)}")
    homogeneous = points @ K.to(points.dtype).T
    return homogeneous[..., :2] / homogeneous[..., 2:] - 0.5


def normals_from_depth(depth: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Unit surface normals from a depth map: the cross product of the back-projected points' image gradients.

    ``n = normalize(dX/dv x dX/du)`` with central differences (one-sided at the border), flipped where needed so
    that every normal faces the camera (``n . X < 0``). Depth discontinuities give meaningless normals at the
    pixels beside them; mask those with the validity of both neighbours if that matters.

    Args:
        depth (Tensor[H, W], Tensor[B, H, W] or Tensor[B, 1, H, W]): z in metres, H, W >= 2.
        K (Tensor[3, 3] or Tensor[B, 3, 3]): intrinsics in pixels.

    Returns:
        Tensor[B, 3, H, W] (Tensor[3, H, W] for a single map): unit normals in the camera frame.
    """
    depth, K, single = _as_batch(depth, K)
    if min(depth.shape[-2:]) < 2:
        raise ValueError(f"depth: expected at least 2x2 pixels to take differences, got {tuple(depth.shape[-2:])}")
    points = depth[:, None] * pixel_rays(K, *depth.shape[-2:])
    d_dv, d_du = torch.gradient(points, dim=(-2, -1))  # central differences, one-sided at the border
    normals = F.normalize(torch.linalg.cross(d_dv, d_du, dim=1), dim=1)
    facing_away = (normals * points).sum(1, keepdim=True) > 0
    normals = torch.where(facing_away, -normals, normals)
    return normals[0] if single else normals

