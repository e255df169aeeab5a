"""Pixels as points: per-pixel feature vectors (colour, optionally position) for clustering and graphs."""

from __future__ import annotations

import numpy as np
import torch
from skimage.color import rgb2lab

from cvlab._validate import check_choice, check_int, check_number, check_tensor

SPACES = ("rgb", "rgbxy", "lab", "labxy")


def pixel_positions(
    height: int, width: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Pixel centres ``(row, col)`` in pixels, in row-major order (the order of ``image.flatten()``).

    Args:
        height, width: image size in pixels.

    Returns:
        Tensor[H * W, 2]: row ``i // W`` and column ``i % W`` of pixel ``i``.
    """
    height = check_int(height, "height")
    width = check_int(width, "width")
    return _positions(height, width, device, dtype)


def _positions(height: int, width: int, device: torch.device | str | None, dtype: torch.dtype) -> torch.Tensor:
    rows = torch.arange(height, device=device, dtype=dtype)
    cols = torch.arange(width, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)


def pixel_features(
    image: torch.Tensor | np.ndarray,
    space: str = "rgb",
    spatial_weight: float = 1.0,
    *,
    channel_axis: int | None = None,
) -> torch.Tensor:
    """Turn an image into one feature vector per pixel, in row-major pixel order.

    ``channel_axis`` tells the layouts apart: ``0`` reads ``(C, H, W)`` (the torch convention), ``-1`` or
    ``2`` reads ``(H, W, C)`` (NumPy / scikit-image). The default follows the input's library: ``0`` for a
    tensor, ``-1`` for an ndarray; a default layout with more than 4 channels while the other end has 1, 3 or
    4 is refused as ambiguous (pass ``channel_axis``). A 2-D ``(H, W)`` image has one channel.

    Feature spaces:

    * ``"rgb"``: the channel values as given (any number of channels, e.g. 1 for a thermal image).
    * ``"lab"``: CIE L*a*b* from :func:`skimage.color.rgb2lab` divided by 100, so that L* lies in [0, 1] and
      a*, b* roughly in [-1, 1], a scale comparable to RGB (needs 3 channels).
    * ``"rgbxy"`` / ``"labxy"``: the colour followed by ``spatial_weight * (y, x)``, where
      ``y = row / (L - 1)``, ``x = col / (L - 1)`` and ``L = max(H, W)``: positions are measured in units of
      the longer image side. With ``spatial_weight = 1`` crossing the whole image costs as much as a full
      swing (0 to 1) of one colour channel; the weight does not depend on the resolution.

    Args:
        image (Tensor or ndarray[C, H, W], [H, W, C] or [H, W]): float image in [0, 1].
        space: one of ``"rgb"``, ``"rgbxy"``, ``"lab"``, ``"labxy"``.
        spatial_weight: weight of the position features (ignored by ``"rgb"`` and ``"lab"``), >= 0.
        channel_axis: the channel axis of a 3-D image, ``0`` or ``-1``; default ``0`` for a tensor and ``-1``
            for an ndarray.

    Returns:
        Tensor[H * W, F]: on the image's device (NumPy input: CPU) and with its float dtype;
        ``F = C`` (``+ 2`` with xy).

    Example:
        >>> pixel_features(torch.rand(3, 4, 5), "rgbxy").shape
        torch.Size([20, 5])
    """
    explicit = channel_axis is not None
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
        channel_axis = -1 if channel_axis is None else channel_axis
    check_tensor(
        image, "image", ndim=(2, 3), shape="(C, H, W), (H, W, C) or (H, W)", dtype="float", finite=True
    )
    check_choice(space, "space", SPACES)
    channel_axis = 0 if channel_axis is None else channel_axis
    if channel_axis not in (0, -1, 2):
        raise ValueError(f"channel_axis: expected 0 or -1, got {channel_axis!r}")
    if image.dim() == 3 and not explicit:
        given, other = (image.shape[0], image.shape[-1]) if channel_axis == 0 else (image.shape[-1], image.shape[0])
        if given > 4 and other in (1, 3, 4):
            layout = "(C, H, W)" if channel_axis == 0 else "(H, W, C)"
            raise ValueError(f"channel_axis: image of shape {tuple(image.shape)} read as {layout} would have "
                             f"{given} channels; pass channel_axis={-1 if channel_axis == 0 else 0} if its "
                             f"channels are the axis of size {other}, or channel_axis={channel_axis} to confirm")
    spatial_weight = check_number(spatial_weight, "spatial_weight", minimum=0)
    hwc = image[..., None] if image.dim() == 2 else (image.permute(1, 2, 0) if channel_axis == 0 else image)
    height, width, channels = hwc.shape
    colour = hwc.reshape(height * width, channels)
    if space.startswith("lab"):
        if channels != 3:
            raise ValueError(f"image: space={space!r} needs 3 channels (RGB), got {channels}")
        lab = rgb2lab(hwc.detach().cpu().double().numpy()) / 100.0
        colour = torch.from_numpy(lab).to(device=image.device, dtype=image.dtype).reshape(height * width, 3)
    if not space.endswith("xy"):
        return colour
    longer = max(height, width)
    xy = _positions(height, width, image.device, image.dtype) / max(longer - 1, 1)
    return torch.cat([colour, spatial_weight * xy], dim=1)
