"""A procedural 3-D world rendered by ray casting: pixels with exact ground truth for every dense task.

``render_scene(seed)`` builds a small world — a ground plane, a back wall, the sky and a few things standing
on the ground (spheres, boxes, cylinders and the rare small cone) — and casts one ray per pixel through a
pinhole camera. Because the geometry is analytic, every label is exact: semantic and instance maps, panoptic
pairs, metric depth, surface normals and the intrinsics.

The world is built to teach:

- appearance is not semantics: every surface, stuff or thing, draws its two colours and its texture (plain,
  stripes, 3-D checks, value noise) from one distribution, so colour alone does not tell the class;
- occlusion and perspective: things stand about 2-11 m away, before the wall, and often hide one another;
- things vs stuff: sky, ground and wall are stuff (no instance id), the four solids are things;
- class imbalance: the cone is small and appears in a fraction ``rare`` of the object slots.

Conventions:

- Camera frame (OpenCV): x right, y down, z forward. Pixel ``(u, v)`` (column, row) covers
  ``[u, u + 1) x [v, v + 1)`` and its centre is ``(u + 0.5, v + 0.5)``; the principal point is the image
  centre ``(W/2, H/2)``. A pixel's ray is ``K^-1 [u + 0.5, v + 0.5, 1]`` and its 3-D point is
  ``X = depth[v, u] * K^-1 [u + 0.5, v + 0.5, 1]`` (depth is z in the camera frame, not the distance along
  the ray).
- World frame: the camera frame without its pitch, with its origin on the ground below the camera: x right,
  y down (gravity), z forward and horizontal. The ground is the plane y = 0, the camera centre is at
  (0, -h, 0) and ``Scene.cam_to_world`` maps camera to world coordinates: ``X_w = R X_c + C``.

References: S. D. Roth, "Ray casting for modeling solids", 1982 (rays against analytic solids);
T. Whitted, "An improved illumination model for shaded display", 1980 (shadow rays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from skimage.color import hsv2rgb

from cvlab._validate import check_int, check_number
from cvlab.geometry import pixel_rays

__all__ = ["CLASS_NAMES", "STUFF_CLASSES", "THING_CLASSES", "Scene", "SceneObject", "render_scene"]

CLASS_NAMES = ("sky", "ground", "wall", "sphere", "box", "cylinder", "cone")
STUFF_CLASSES = (0, 1, 2)
THING_CLASSES = (3, 4, 5, 6)
_SKY, _GROUND, _WALL, _SPHERE, _BOX, _CYLINDER, _CONE = range(7)

_FOV_DEG = 60.0  # field of view across the longer image side
_RARE_SCALE = 0.5  # cones are this much smaller than the other things
_MAX_OBJECT_SIZE = 2.0  # metres; larger things would not fit between the camera and the wall
_NOISE_GRID = 16  # value-noise lattice, wrapped every 16 cells


@dataclass(frozen=True)
class SceneObject:
    """One thing of a scene, enough to evaluate its surface analytically.

    Attributes:
        instance_id: its id in ``Scene.instance`` (1..N).
        class_id: 3 sphere, 4 box, 5 cylinder or 6 cone.
        center: centre of its bounding box in world coordinates (metres); it stands on the ground, so
            ``center[1] == -half height``.
        size: metres. sphere ``(radius,)``; box ``(half_x, half_y, half_z)`` half-extents in its own frame;
            cylinder ``(radius, half_height)``; cone ``(base_radius, half_height)`` with the apex on top.
        yaw: rotation about the world y axis (radians): ``X_w = center + R_y(yaw) X_local`` with
            ``R_y = [[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]]``. Only the box's surface depends on it.
    """

    instance_id: int
    class_id: int
    center: tuple[float, float, float]
    size: tuple[float, ...]
    yaw: float


@dataclass(frozen=True, eq=False)
class Scene:
    """A rendered scene and its exact ground truth, plain CPU tensors (frames: see the module docstring).

    Attributes:
        image (Tensor[3, H, W]): float32 RGB in [0, 1].
        semantic (Tensor[H, W]): int64 class ids 0..6 (``CLASS_NAMES``), every pixel labelled.
        instance (Tensor[H, W]): int64 instance ids 1..N on thing pixels, 0 on stuff.
        panoptic (Tensor[H, W, 2]): int64 (class id, instance id) per pixel, instance 0 on stuff.
        depth (Tensor[H, W]): float32 metres, z in the camera frame; 0 on the sky.
        valid (Tensor[H, W]): bool, False on the sky (the only pixels without a surface).
        normals (Tensor[3, H, W]): float32 unit normals in the camera frame facing the camera; 0 on the sky.
        K (Tensor[3, 3]): float32 intrinsics, principal point at the image centre.
        cam_to_world (Tensor[4, 4]): float32 camera-to-world transform ``[[R, C], [0, 1]]``.
        light (Tensor[3]): float32 unit direction towards the light, world frame.
        wall_plane (Tensor[4]): float32 ``(n_x, n_y, n_z, d)``: the wall is ``n . X_w = d`` (world frame,
            ``n`` unit, horizontal, pointing away from the camera) up to ``wall_height`` metres above ground.
        objects: one ``SceneObject`` per visible thing, in instance-id order.
        class_names, things, stuff: ``CLASS_NAMES``, ``THING_CLASSES``, ``STUFF_CLASSES``.
    """

    image: torch.Tensor
    semantic: torch.Tensor
    instance: torch.Tensor
    panoptic: torch.Tensor
    depth: torch.Tensor
    valid: torch.Tensor
    normals: torch.Tensor
    K: torch.Tensor
    cam_to_world: torch.Tensor
    light: torch.Tensor
    wall_plane: torch.Tensor
    wall_height: float
    objects: tuple[SceneObject, ...]
    class_names: tuple[str, ...] = field(default=CLASS_NAMES)
    things: tuple[int, ...] = field(default=THING_CLASSES)
    stuff: tuple[int, ...] = field(default=STUFF_CLASSES)


class _Prim(NamedTuple):
    cls: int
    center: tuple[float, float, float]
    size: tuple[float, ...]
    yaw: float
    half_height: float
    radius_xz: float  # bounding radius in the ground plane


class _Look(NamedTuple):
    kind: int  # 0 plain, 1 stripes, 2 checks, 3 value noise
    color_a: np.ndarray  # (3, 1, 1)
    color_b: np.ndarray  # (3, 1, 1)
    freq: float  # 1 to 3 cycles per metre
    direction: list[float]  # 3 components
    phase: list[float]  # 3 components


class _Camera(NamedTuple):
    height: float
    cos: float  # of the pitch
    sin: float
    K: np.ndarray
    dx: np.ndarray  # (1, W) world ray components of the pixels, z_cam = 1
    dy: np.ndarray  # (H, 1)
    dz: np.ndarray  # (H, 1)


# ----------------------------------------------------------------------------------------------------------
# argument parsing


def _parse_size(size: object) -> tuple[int, int]:
    if isinstance(size, tuple | list):
        if len(size) != 2:
            raise ValueError(f"size: expected an int or a (H, W) pair, got {size!r}")
        return check_int(size[0], "size"), check_int(size[1], "size")
    n = check_int(size, "size")
    return n, n


def _parse_n_objects(n_objects: object) -> tuple[int, int]:
    if isinstance(n_objects, tuple | list):
        if len(n_objects) != 2:
            raise ValueError(f"n_objects: expected an int or a (lo, hi) pair, got {n_objects!r}")
        lo, hi = (
            check_int(n_objects[0], "n_objects", minimum=0),
            check_int(n_objects[1], "n_objects", minimum=0),
        )
        if lo > hi:
            raise ValueError(f"n_objects: expected lo <= hi, got {tuple(n_objects)!r}")
        return lo, hi
    n = check_int(n_objects, "n_objects", minimum=0)
    return n, n


def _parse_object_size(object_size: object) -> tuple[float, float]:
    if not isinstance(object_size, tuple | list) or len(object_size) != 2:
        raise ValueError(
            f"object_size: expected a (lo, hi) pair of metres with 0 < lo <= hi <= {_MAX_OBJECT_SIZE}, "
            f"got {object_size!r}"
        )
    lo, hi = (check_number(v, "object_size", minimum=0, maximum=_MAX_OBJECT_SIZE, exclusive=True)
              for v in object_size)
    if lo > hi:
        raise ValueError(f"object_size: expected lo <= hi, got {object_size!r}")
    return lo, hi


def _parse_fraction(value: object, name: str, upper: float) -> float:
    return check_number(value, name, minimum=0, maximum=upper)


# ----------------------------------------------------------------------------------------------------------
# camera and world


@lru_cache(maxsize=16)
def _pixel_rays(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsics, camera-frame rays ``K^-1 [u + 0.5, v + 0.5, 1]`` (x per column, y per row), a row ramp."""
    f = 0.5 * max(h, w) / math.tan(math.radians(_FOV_DEG) / 2)
    K = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]], dtype=np.float32)
    rays = pixel_rays(torch.from_numpy(K), h, w).numpy()  # no skew: x depends on the column, y on the row only
    xs, ys = rays[0, 0].copy(), rays[1, :, 0].copy()
    ramp = np.linspace(0, 1, h, dtype=np.float32)
    for a in (K, xs, ys, ramp):
        a.setflags(write=False)
    return K, xs[None, :], ys[:, None], ramp[:, None]


def _make_camera(rng: np.random.Generator, h: int, w: int) -> _Camera:
    height = rng.uniform(1.2, 1.8)
    pitch = math.radians(rng.uniform(6.0, 14.0))
    K, xs, ys, _ = _pixel_rays(h, w)
    c, s = math.cos(pitch), math.sin(pitch)
    # world ray = R (x, y, 1) with R the pitch about the x axis (columns: camera x, y, z axes in the world)
    return _Camera(
        height, c, s, K, xs, np.float32(c) * ys + np.float32(s), np.float32(-s) * ys + np.float32(c)
    )


def _random_looks(rng: np.random.Generator, n: int) -> list[_Look]:
    """``n`` appearances from one distribution, the same for every surface whatever its class."""
    u = rng.uniform(size=(n, 11))
    hsv = np.stack([u[:, 1:4], u[:, 4:7]]).reshape(2 * n, 3) * (1.0, 0.6, 0.5) + (0.0, 0.25, 0.45)
    colors = hsv2rgb(hsv).astype(np.float32).reshape(2, n, 3, 1, 1)  # any hue, mid-high saturation, value
    kinds, freq = (u[:, 0] * 4).astype(np.int64).tolist(), (1.0 + 2.0 * u[:, 7]).tolist()
    phase = (0.1 + 0.8 * u[:, 8:11]).tolist()
    direction = rng.normal(size=(n, 3))
    direction = (direction / np.linalg.norm(direction, axis=1, keepdims=True)).tolist()
    return [_Look(kinds[i], colors[0, i], colors[1, i], freq[i], direction[i], phase[i]) for i in range(n)]


def _place_objects(
    rng: np.random.Generator,
    n: int,
    cam: _Camera,
    wall: tuple[float, float, float],
    object_size: tuple[float, float],
    rare: float,
) -> list[_Prim]:
    """Stand ``n`` things on the visible ground before the wall, apart from each other (some may drop)."""
    cone = rng.uniform(size=n) < rare
    classes = np.where(cone, _CONE, _SPHERE + rng.integers(3, size=n)).tolist()
    dims = (rng.uniform(*object_size, size=(n, 3)) * np.where(cone, _RARE_SCALE, 1.0)[:, None]).tolist()
    yaws = rng.uniform(-math.pi, math.pi, n).tolist()
    # 16 candidate spots each, on the ground seen between the bottom row and 9 m further, inside the view
    z_near = cam.height / float(cam.dy[-1, 0]) * float(cam.dz[-1, 0])
    z = rng.uniform(z_near + 0.3, z_near + 9.0, size=(n, 16))
    x = rng.uniform(-0.8, 0.8, size=(n, 16)) * z * float(cam.dx[0, -1])
    prims: list[_Prim] = []
    for i, (cls, (a, b, c), yaw) in enumerate(zip(classes, dims, yaws, strict=True)):
        if cls == _SPHERE:
            size, hh, rxz = (a,), a, a
        elif cls == _BOX:
            size, hh, rxz = (a, b, c), b, math.hypot(a, c)
        else:  # cylinder and cone: (radius, half height)
            size, hh, rxz = (a, b), b, a
        ok = wall[0] * x[i] + wall[1] * z[i] + rxz <= wall[2] - 0.2
        for p in prims:
            ok &= np.hypot(x[i] - p.center[0], z[i] - p.center[2]) >= rxz + p.radius_xz + 0.05
        if ok.any():
            j = int(ok.argmax())
            prims.append(_Prim(cls, (float(x[i, j]), -hh, float(z[i, j])), size, yaw, hh, rxz))
    return prims


_CORNERS = np.array([(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], dtype=np.float64)


def _pixel_boxes(
    prims: list[_Prim], cam: _Camera, h: int, w: int, shift: np.ndarray | None = None
) -> list[tuple[slice, slice] | None]:
    """Per thing, the pixel rows and columns whose rays can meet its bounding box (or, with ``shift`` (n, 3),
    the convex hull of its bounding box and of that box moved by ``shift``); None when out of view."""
    if not prims:
        return []
    centre = np.array([p.center for p in prims])
    half = np.array([(p.radius_xz, p.half_height, p.radius_xz) for p in prims])
    pts = centre[:, None] + _CORNERS * half[:, None]  # (n, 8, 3) world points
    if shift is not None:
        pts = np.concatenate([pts, pts + shift[:, None]], axis=1)
    x, y, z = pts[..., 0], pts[..., 1] + cam.height, pts[..., 2]
    zc = cam.sin * y + cam.cos * z  # camera frame: X_c = R^T (X_w - C)
    f, cx, cy = float(cam.K[0, 0]), float(cam.K[0, 2]), float(cam.K[1, 2])
    u = f * x / zc + cx
    v = f * (cam.cos * y - cam.sin * z) / zc + cy
    # pixel i sees the hull if its centre i + 0.5 lies within [min, max]; one pixel of margin each side
    c0, c1 = np.floor(u.min(1) - 0.5).tolist(), np.floor(u.max(1) - 0.5).tolist()
    r0, r1 = np.floor(v.min(1) - 0.5).tolist(), np.floor(v.max(1) - 0.5).tolist()
    boxes = []
    for k, behind in enumerate((zc <= 1e-3).any(1).tolist()):
        if behind:  # the projection is unbounded
            boxes.append((slice(0, h), slice(0, w)))
            continue
        cols = slice(max(0, int(c0[k])), min(w, int(c1[k]) + 2))
        rows = slice(max(0, int(r0[k])), min(h, int(r1[k]) + 2))
        boxes.append((rows, cols) if rows.start < rows.stop and cols.start < cols.stop else None)
    return boxes


# ----------------------------------------------------------------------------------------------------------
# ray casting


def _intersect(p: _Prim, ox, oy, oz, dx, dy, dz) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters ``t`` of the rays ``o + t d`` (broadcastable arrays) through the solid ``p``.

    A ray hits where ``entry <= exit`` (NaN compares False on a miss).
    """
    ox, oy, oz = ox - p.center[0], oy - p.center[1], oz - p.center[2]
    if p.cls == _SPHERE:
        r = p.size[0]
        a = dx * dx + dy * dy + dz * dz
        b = ox * dx + oy * dy + oz * dz
        sq = np.sqrt(b * b - a * (ox * ox + oy * oy + oz * oz - r * r))
        return (-b - sq) / a, (-b + sq) / a
    hh = p.half_height  # every other solid is cut by the horizontal slab |y - cy| <= hh
    t1, t2 = (-hh - oy) / dy, (hh - oy) / dy
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    if p.cls == _BOX:
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        for o, d, half in (
            (c * ox - s * oz, c * dx - s * dz, p.size[0]),
            (s * ox + c * oz, s * dx + c * dz, p.size[2]),
        ):
            t1, t2 = (-half - o) / d, (half - o) / d
            lo, hi = np.maximum(lo, np.minimum(t1, t2)), np.minimum(hi, np.maximum(t1, t2))
        return lo, hi
    r = p.size[0]
    if p.cls == _CYLINDER:
        a = dx * dx + dz * dz
        b = ox * dx + oz * dz
        sq = np.sqrt(b * b - a * (ox * ox + oz * oz - r * r))
        return np.maximum(lo, (-b - sq) / a), np.minimum(hi, (-b + sq) / a)
    # cone: rho <= k (y - y_apex) in the slab, k = r / height; Q(t) = k^2 y'^2 - rho^2 >= 0 on the double cone
    k2 = (r / (2 * hh)) ** 2
    oa = oy + hh  # y relative to the apex
    qa = k2 * dy * dy - dx * dx - dz * dz
    qb = k2 * oa * dy - ox * dx - oz * dz
    sq = np.sqrt(qb * qb - qa * (k2 * oa * oa - ox * ox - oz * oz))
    near, far = (-qb - sq) / qa, (-qb + sq) / qa  # qa < 0: inside on [far, near]; qa > 0: outside (near, far)
    steep = qa > 0  # the ray crosses both nappes: keep the half-line on the lower one (y' >= 0)
    lo_c = np.where(steep & (dy <= 0), -np.inf, far)
    hi_c = np.where(steep & (dy > 0), np.inf, near)
    return np.maximum(lo, lo_c), np.minimum(hi, hi_c)


def _normal(p: _Prim, qx, qy, qz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outward unit normal (world frame) at points ``q`` on the surface of ``p``, relative to its centre."""
    if p.cls == _SPHERE:
        inv = 1.0 / p.size[0]
        return qx * inv, qy * inv, qz * inv
    if p.cls == _BOX:  # the face whose slab term of max(|q_i| - half_i) is largest
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        lx, lz = c * qx - s * qz, s * qx + c * qz
        ex, ey, ez = np.abs(lx) - p.size[0], np.abs(qy) - p.size[1], np.abs(lz) - p.size[2]
        nx = np.where((ex >= ey) & (ex >= ez), np.sign(lx), 0).astype(np.float32)
        nz = np.where((ez > ex) & (ez >= ey), np.sign(lz), 0).astype(np.float32)
        ny = np.where((ey > ex) & (ey > ez), np.sign(qy), 0).astype(np.float32)
        return c * nx + s * nz, ny, c * nz - s * nx
    rho = np.maximum(np.sqrt(qx * qx + qz * qz), 1e-9)
    if p.cls == _CYLINDER:
        side = rho - p.size[0] >= np.abs(qy) - p.half_height
        return np.where(side, qx / rho, 0), np.where(side, 0, np.sign(qy)), np.where(side, qz / rho, 0)
    k = p.size[0] / (2 * p.half_height)  # cone: only its lateral surface faces a camera above the ground
    inv = 1.0 / math.sqrt(1.0 + k * k)
    return qx / rho * inv, np.full_like(qx, -k * inv), qz / rho * inv


# ----------------------------------------------------------------------------------------------------------
# appearance


def _albedo(
    look: _Look, frame: tuple[float, float, float, float], px, py, pz, grid, textures: bool
) -> np.ndarray:
    """Albedo (3, ...) of a surface at world points ``p``, its texture fixed to ``frame`` (centre, yaw)."""
    if not textures or look.kind == 0:
        return look.color_a
    cx, cy, cz, yaw = frame
    c, s = math.cos(yaw), math.sin(yaw)
    x, y, z = px - cx, py - cy, pz - cz
    qx, qy, qz = c * x - s * z, y, s * x + c * z
    f = look.freq
    if look.kind == 1:  # stripes
        a = look.direction
        m = 0.5 + 0.5 * np.sin(
            2 * math.pi * f * (a[0] * qx + a[1] * qy + a[2] * qz) + 2 * math.pi * look.phase[0]
        )
    elif look.kind == 2:  # 3-D checks (phases keep planes such as y = 0 off the cell borders)
        ph = look.phase
        m = np.floor(f * qx + ph[0]) + np.floor(f * qy + ph[1]) + np.floor(f * qz + ph[2])
        m = m - 2 * np.floor(0.5 * m)
    else:
        m = _value_noise(
            f * (qx + qz) + _NOISE_GRID * look.phase[0], f * (qy + qz) + _NOISE_GRID * look.phase[1], grid
        )
    return look.color_a + (look.color_b - look.color_a) * m[None]


def _value_noise(u: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value noise: smoothed bilinear interpolation of a random lattice ``grid`` (n * n,), wrapped every n."""
    n = _NOISE_GRID
    fu, fv = np.floor(u), np.floor(v)
    iu = fu.astype(np.int64) % n
    iv = fv.astype(np.int64) % n
    su, sv = u - fu, v - fv
    su, sv = su * su * (3 - 2 * su), sv * sv * (3 - 2 * sv)
    row0, row1 = iv * n, ((iv + 1) % n) * n
    iu1 = (iu + 1) % n
    top = grid.take(row0 + iu) * (1 - su) + grid.take(row0 + iu1) * su
    bottom = grid.take(row1 + iu) * (1 - su) + grid.take(row1 + iu1) * su
    return top * (1 - sv) + bottom * sv


# ----------------------------------------------------------------------------------------------------------
# the renderer


class _World(NamedTuple):
    """Everything a seed draws: camera, light, wall, things and their looks."""

    cam: _Camera
    light: tuple[float, float, float]  # unit direction the light travels
    ambient: float
    psi: float  # wall yaw, radians
    wall: tuple[float, float, float]  # plane n . X = dist with n = (sin psi, 0, cos psi): (n_x, n_z, dist)
    wall_top: float  # world y of the top of the wall (negative: above the ground)
    prims: list[_Prim]
    looks: list[_Look]  # sky, ground, wall, then one per thing
    grid: np.ndarray  # value-noise lattice
    ground_yaw: float


def _draw_world(rng: np.random.Generator, h: int, w: int, n_objects: tuple[int, int],
                object_size: tuple[float, float], rare: float) -> _World:
    """Draw one scene's parameters, in a fixed order (so geometry does not depend on the rendering options)."""
    cam = _make_camera(rng, h, w)
    elev, azim = math.radians(rng.uniform(30, 65)), math.radians(rng.uniform(-60, 60))
    light = (math.cos(elev) * math.sin(azim), -math.sin(elev), -math.cos(elev) * math.cos(azim))
    ambient = rng.uniform(0.25, 0.4)
    psi = math.radians(rng.uniform(-25, 25))
    wall = (math.sin(psi), math.cos(psi), rng.uniform(7.0, 12.0))
    wall_top = -(cam.height + rng.uniform(0.3, 2.5))  # taller than the camera: no ground is seen behind it
    prims = _place_objects(rng, int(rng.integers(n_objects[0], n_objects[1] + 1)), cam, wall, object_size, rare)
    looks = _random_looks(rng, 3 + len(prims))
    grid = rng.uniform(size=(_NOISE_GRID, _NOISE_GRID)).astype(np.float32).ravel()
    ground_yaw = rng.uniform(-math.pi, math.pi)
    return _World(cam, light, ambient, psi, wall, wall_top, prims, looks, grid, ground_yaw)


def _trace(world: _World, h: int, w: int):
    """Primary rays: distance ``t`` along each (H, W) ray, surface id (0 sky, 1 ground, 2 wall, 3 + k thing k),
    the wall mask, and each thing's pixel box."""
    cam, wall = world.cam, world.wall
    dx, dy, dz = cam.dx, cam.dy, cam.dz
    t_ground = np.where(dy > 0, cam.height / dy, np.inf).astype(np.float32)
    denom = wall[0] * dx + wall[1] * dz
    t_wall = np.where(denom > 0, wall[2] / denom, np.inf)
    np.copyto(t_wall, np.inf, where=t_wall * dy - cam.height < world.wall_top)  # above the top of the wall
    on_wall = t_wall < t_ground
    t = np.where(on_wall, t_wall, t_ground)
    sid = on_wall.astype(np.int64) + _GROUND
    sid[np.isinf(t)] = _SKY
    # things: z-buffer, each over the pixels of its projected bounding box
    boxes = _pixel_boxes(world.prims, cam, h, w)
    for k, (p, box) in enumerate(zip(world.prims, boxes, strict=True)):
        if box is None:
            continue
        rows, cols = box
        entry, exit_ = _intersect(p, 0.0, -cam.height, 0.0, dx[:, cols], dy[rows], dz[rows])
        tb = t[rows, cols]
        closer = (entry <= exit_) & (entry > 0) & (entry < tb)
        np.copyto(tb, entry, where=closer)
        np.copyto(sid[rows, cols], 3 + k, where=closer)
    return t, sid, on_wall, boxes


def _surfaces(world: _World, points, sid: np.ndarray, on_wall: np.ndarray, boxes, textures: bool):
    """World-frame normals ``(nx, ny, nz)`` and albedo (3, H, W) of every pixel: the stuff, then the things in
    their boxes. ``points`` are the world coordinates of each pixel (px, py, pz)."""
    px, py, pz = points
    wall, looks, grid = world.wall, world.looks, world.grid
    h, w = sid.shape
    wall_n = (-wall[0], -wall[1])  # facing the camera
    nx = np.where(on_wall, np.float32(wall_n[0]), np.float32(0))
    ny = np.where(on_wall, np.float32(0), np.float32(-1))
    nz = np.where(on_wall, np.float32(wall_n[1]), np.float32(0))
    albedo = np.zeros((3, h, w), dtype=np.float32)
    rows = slice(int(np.searchsorted(world.cam.dy[:, 0], 0, side="right")), h)  # the ground is below the horizon
    frame = (0.0, 0.0, 0.0, world.ground_yaw)
    albedo[:, rows] = _albedo(looks[_GROUND], frame, px[rows], py[rows], pz[rows], grid, textures)
    wall_rows = np.flatnonzero(on_wall.any(1))
    if wall_rows.size:
        rows = slice(int(wall_rows[0]), int(wall_rows[-1]) + 1)
        frame = (wall[0] * wall[2], 0.0, wall[1] * wall[2], world.psi)
        look = _albedo(looks[_WALL], frame, px[rows], py[rows], pz[rows], grid, textures)
        np.copyto(albedo[:, rows], look, where=on_wall[None, rows])
    for k, (p, box) in enumerate(zip(world.prims, boxes, strict=True)):
        if box is None:
            continue
        rows, cols = box
        mine = sid[rows, cols] == 3 + k
        bx, by, bz = px[rows, cols], py[rows, cols], pz[rows, cols]
        normal = _normal(p, bx - p.center[0], by - p.center[1], bz - p.center[2])
        for out, val in zip((nx, ny, nz), normal, strict=True):
            np.copyto(out[rows, cols], val, where=mine, casting="unsafe")
        look = _albedo(looks[3 + k], (*p.center, p.yaw), bx, by, bz, grid, textures)
        np.copyto(albedo[:, rows, cols], look, where=mine[None])
    return (nx, ny, nz), albedo


def _shade(world: _World, albedo: np.ndarray, normals, points, sky: np.ndarray, shadows: bool) -> np.ndarray:
    """Lambertian shading with cast shadows, and the sky's colour ramp: the (3, H, W) image before noise."""
    light, prims = world.light, world.prims
    h, w = sky.shape
    nx, ny, nz = normals
    lit = nx * np.float32(light[0]) + ny * np.float32(light[1]) + nz * np.float32(light[2])
    np.maximum(lit, 0, out=lit)
    if shadows:
        # what a thing can shade lies between it and its copy dropped onto the ground along the light
        drop = np.array(light) * np.array([2 * p.half_height / light[1] for p in prims])[:, None]
        for p, box in zip(prims, _pixel_boxes(prims, world.cam, h, w, drop), strict=True):
            if box is None:
                continue
            rows, cols = box
            entry, exit_ = _intersect(p, *(x[rows, cols] for x in points), *light)
            lb = lit[rows, cols]
            np.copyto(lb, 0, where=(entry <= exit_) & (entry > 1e-4))
    image = albedo * (np.float32(world.ambient) + np.float32(1 - world.ambient) * lit)
    top, bottom = world.looks[_SKY].color_a, world.looks[_SKY].color_b
    ramp = _pixel_rays(h, w)[3]
    np.copyto(image, top + (bottom - top) * ramp, where=sky[None])
    return image


def _assemble(world: _World, image: np.ndarray, depth: np.ndarray, sid: np.ndarray, normals) -> Scene:
    """The labels (visible things numbered 1..N in placement order), camera-frame normals and the Scene."""
    cam, prims, wall = world.cam, world.prims, world.wall
    sky = sid == _SKY
    nx, ny, nz = normals
    c, s = np.float32(cam.cos), np.float32(cam.sin)
    normals = np.stack([nx, c * ny - s * nz, s * ny + c * nz])  # n_c = R^T n_w
    np.copyto(normals, 0, where=sky[None])
    visible = np.bincount(sid.ravel(), minlength=3 + len(prims))[3:] > 0
    ids = np.cumsum(visible) * visible
    classes = np.array([_SKY, _GROUND, _WALL, *(p.cls for p in prims)], dtype=np.int64)
    semantic = classes[sid]
    instance = np.concatenate([np.zeros(3, dtype=np.int64), ids])[sid]
    objects = tuple(
        SceneObject(int(ids[k]), p.cls, p.center, tuple(map(float, p.size)), float(p.yaw))
        for k, p in enumerate(prims)
        if visible[k]
    )
    cam_to_world = np.eye(4, dtype=np.float32)
    cam_to_world[:3, :3] = [[1, 0, 0], [0, cam.cos, cam.sin], [0, -cam.sin, cam.cos]]
    cam_to_world[1, 3] = -cam.height
    return Scene(
        image=torch.from_numpy(image),
        semantic=torch.from_numpy(semantic),
        instance=torch.from_numpy(instance),
        panoptic=torch.from_numpy(np.stack([semantic, instance], axis=-1)),
        depth=torch.from_numpy(depth),
        valid=torch.from_numpy(~sky),
        normals=torch.from_numpy(normals),
        K=torch.from_numpy(cam.K.copy()),
        cam_to_world=torch.from_numpy(cam_to_world),
        light=torch.from_numpy(np.array(world.light, dtype=np.float32)),
        wall_plane=torch.from_numpy(np.array([wall[0], 0.0, wall[1], wall[2]], dtype=np.float32)),
        wall_height=-world.wall_top,
        objects=objects,
    )


def render_scene(
    seed: int,
    size: int | tuple[int, int] = 128,
    *,
    n_objects: int | tuple[int, int] = (2, 6),
    object_size: tuple[float, float] = (0.3, 0.9),
    rare: float = 0.15,
    shadows: bool = True,
    textures: bool = True,
    noise: float = 0.0,
) -> Scene:
    """Render one scene of the procedural world with its exact dense ground truth.

    A pinhole camera 1.2-1.8 m above the ground, pitched 6-14 degrees down (60 degree field of view across the
    longer image side), looks at a wall 7-12 m away (yawed up to 25 degrees, taller than the camera, sky
    above it) and at ``n_objects`` things standing on the ground in front of it. Shading is Lambertian with
    one directional light and ambient light, ``albedo * (ambient + (1 - ambient) * max(0, n . l) * lit)``,
    where ``lit`` is one shadow ray per pixel tested against the things. Everything is fixed by ``seed`` (a
    local NumPy generator), and the geometry does not depend on ``shadows``, ``textures`` or ``noise``.

    Args:
        seed: any int >= 0; the same seed gives the same scene.
        size: ``H = W = size`` or an ``(H, W)`` pair, in pixels.
        n_objects: number of object slots, an int or an inclusive ``(lo, hi)`` range drawn uniformly. A slot
            whose object cannot be placed without touching another is dropped, and things hidden behind others
            are left out of the labels, so a scene may show fewer.
        object_size: ``(lo, hi)`` range in metres of the radius / half-extents of each thing (cones are
            half as large).
        rare: probability that an object slot holds a (small) cone, else a sphere, box or cylinder with
            equal chances. Small cones are hidden more often, so their share among the visible things
            is a little lower (about 0.13 for the default 0.15).
        shadows: cast shadows (one shadow ray per pixel).
        textures: procedural textures; otherwise every surface has one flat colour.
        noise: standard deviation of Gaussian pixel noise added to the image (before clipping to [0, 1]).

    Returns:
        Scene: the image and its labels, see ``Scene``.

    Example:
        >>> scene = render_scene(0, size=(96, 128))
        >>> scene.image.shape, scene.semantic.shape, scene.normals.shape
        (torch.Size([3, 96, 128]), torch.Size([96, 128]), torch.Size([3, 96, 128]))
    """
    seed = check_int(seed, "seed", minimum=0)
    h, w = _parse_size(size)
    n_objects = _parse_n_objects(n_objects)
    object_size = _parse_object_size(object_size)
    rare = _parse_fraction(rare, "rare", 1.0)
    noise = _parse_fraction(noise, "noise", 1.0)

    rng = np.random.default_rng(seed)
    world = _draw_world(rng, h, w, n_objects, object_size, rare)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t, sid, on_wall, boxes = _trace(world, h, w)
        sky = sid == _SKY
        depth = np.where(sky, np.float32(0), t)
        points = depth * world.cam.dx, depth * world.cam.dy - world.cam.height, depth * world.cam.dz
        normals, albedo = _surfaces(world, points, sid, on_wall, boxes, textures)
        image = _shade(world, albedo, normals, points, sky, shadows)
        if noise:
            image += rng.normal(scale=noise, size=image.shape).astype(np.float32)
        np.clip(image, 0, 1, out=image)
    return _assemble(world, image, depth, sid, normals)
