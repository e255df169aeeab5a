"""``SceneDataset``: the rendered world as a ``torch.utils.data.Dataset`` with fixed train / val / test seeds.

Every notebook and assignment that evaluates on ``SceneDataset(split="test")`` sees the same held-out scenes,
because an item is nothing but ``render_scene(seed)`` for a seed of a fixed range (``SPLIT_SEEDS``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from cvlab._validate import check_choice, check_int
from cvlab.data.scenes import Scene, render_scene

__all__ = ["SPLIT_SEEDS", "TASKS", "SceneDataset", "detection_collate"]

SPLIT_SEEDS = {"train": range(0, 100_000), "val": range(100_000, 101_000), "test": range(200_000, 201_000)}
TASKS = ("semantic", "instance", "panoptic", "depth", "normals")


class SceneDataset(Dataset):
    """Scenes of ``render_scene`` over the fixed seeds of a split, with the targets of one or more tasks.

    Item ``i`` is ``render_scene(SPLIT_SEEDS[split][i], size, **render_kwargs)`` returned as
    ``(image, target)``, ``image`` a float32 ``(3, H, W)`` tensor in [0, 1] and ``target`` by task:

    - ``"semantic"``: int64 ``(H, W)`` class ids (``CLASS_NAMES``).
    - ``"instance"``: the torchvision detection dict ``{"boxes": float32 (N, 4), "labels": int64 (N,),
      "masks": uint8 (N, H, W)}`` of the N visible things (N may be 0), boxes ``(x1, y1, x2, y2)`` in
      pixels as ``torchvision.ops.masks_to_boxes`` gives them (first and last column and row of the mask).
    - ``"panoptic"``: int64 ``(H, W, 2)`` (class id, instance id), instance id 0 on stuff.
    - ``"depth"``: ``{"depth": float32 (1, H, W) metres, "valid": bool (1, H, W)}`` (False and 0 on the sky).
    - ``"normals"``: ``{"normals": float32 (3, H, W) unit camera-frame normals, "valid": bool (1, H, W)}``.
    - a tuple of tasks: a dict ``{task: target}`` of the above.

    With ``augment=True`` each item is flipped left-right with probability 1/2 (every target with it: masks,
    boxes and the x component of the normals; the intrinsics stay valid since the principal point is the image
    centre) and its image only gets a mild brightness, contrast and saturation jitter. The draw is fixed by
    ``(aug_seed, scene seed)``, so an item is reproducible; change ``aug_seed`` (say each epoch) for new ones.

    Args:
        split: ``"train"`` (100,000 seeds), ``"val"`` or ``"test"`` (1,000 each).
        task: one of ``TASKS`` or a tuple of them.
        size: image size, an int or ``(H, W)``.
        length: use only the first ``length`` seeds of the split (default: all).
        augment: random flip and colour jitter, see above.
        aug_seed: seeds the augmentation draws together with the scene seed.
        **render_kwargs: passed to ``render_scene`` (``n_objects``, ``object_size``, ``rare``, ...).

    Example:
        >>> ds = SceneDataset("val", task=("semantic", "depth"), size=64, length=10)
        >>> image, target = ds[0]
        >>> image.shape, target["semantic"].shape, target["depth"]["depth"].shape
        (torch.Size([3, 64, 64]), torch.Size([64, 64]), torch.Size([1, 64, 64]))
    """

    def __init__(
        self,
        split: str = "train",
        task: str | tuple[str, ...] = "semantic",
        size: int | tuple[int, int] = 128,
        length: int | None = None,
        augment: bool = False,
        aug_seed: int = 0,
        **render_kwargs,
    ) -> None:
        seeds = SPLIT_SEEDS[check_choice(split, "split", tuple(SPLIT_SEEDS))]
        tasks = (task,) if isinstance(task, str) else tuple(task) if isinstance(task, tuple | list) else None
        if not tasks:
            raise ValueError(
                f"task: expected one of {', '.join(map(repr, TASKS))} or a tuple of them, got {task!r}"
            )
        for name in tasks:
            check_choice(name, "task", TASKS)
        if length is not None:
            length = check_int(length, "length", minimum=0)
            if length > len(seeds):
                raise ValueError(f"length: expected at most {len(seeds)} (the {split} split), got {length}")
            seeds = seeds[:length]
        render_scene(0, size, **render_kwargs)  # checks size and render_kwargs now, not at the first item
        self.split, self.task, self.tasks, self.size, self.seeds = split, task, tasks, size, seeds
        self.augment, self.aug_seed = bool(augment), check_int(aug_seed, "aug_seed", minimum=0)
        self.render_kwargs = render_kwargs

    def __len__(self) -> int:
        return len(self.seeds)

    def scene(self, index: int) -> Scene:
        """The un-augmented ``Scene`` behind item ``index`` (its intrinsics, objects, every label)."""
        return render_scene(self.seeds[index], self.size, **self.render_kwargs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, object]:
        scene = self.scene(index)
        image = scene.image
        maps = {
            "semantic": scene.semantic,
            "instance": scene.instance,
            "panoptic": scene.panoptic,
            "depth": scene.depth[None],
            "valid": scene.valid[None],
            "normals": scene.normals,
        }
        if self.augment:
            from torchvision.transforms.v2 import functional as TF  # lazy: torchvision is slow to import

            rng = np.random.default_rng([self.aug_seed, self.seeds[index]])
            if rng.uniform() < 0.5:  # mirror the world: x -> -x
                image = image.flip(-1)
                maps = {k: v.flip(-2 if k == "panoptic" else -1) for k, v in maps.items()}
                maps["normals"] = maps["normals"] * torch.tensor([-1.0, 1.0, 1.0])[:, None, None]
            brightness, contrast, saturation = rng.uniform(0.8, 1.2, size=3)
            image = TF.adjust_brightness(image, float(brightness))
            image = TF.adjust_contrast(image, float(contrast))
            image = TF.adjust_saturation(image, float(saturation))
        labels = torch.tensor([obj.class_id for obj in scene.objects], dtype=torch.int64)
        targets = {name: _target(name, maps, labels) for name in self.tasks}
        return image, targets[self.task] if isinstance(self.task, str) else targets

    def __repr__(self) -> str:
        return (
            f"SceneDataset(split={self.split!r}, task={self.task!r}, size={self.size!r}, length={len(self)}, "
            f"augment={self.augment})"
        )


def _target(name: str, maps: dict[str, torch.Tensor], labels: torch.Tensor) -> object:
    if name == "semantic":
        return maps["semantic"]
    if name == "panoptic":
        return maps["panoptic"]
    if name == "depth":
        return {"depth": maps["depth"], "valid": maps["valid"]}
    if name == "normals":
        return {"normals": maps["normals"], "valid": maps["valid"]}
    ids = torch.arange(1, len(labels) + 1)  # visible things are numbered 1..N
    masks = maps["instance"][None] == ids[:, None, None]
    from torchvision.ops import masks_to_boxes  # lazy: torchvision is slow to import

    return {"boxes": masks_to_boxes(masks), "labels": labels, "masks": masks.to(torch.uint8)}


def detection_collate(batch: list[tuple[torch.Tensor, object]]) -> tuple[torch.Tensor, object]:
    """Collate ``SceneDataset`` items whose targets hold detection dicts (N differs between images).

    Images are stacked to ``(B, 3, H, W)``; detection dicts stay a list of B dicts (what torchvision detection
    models take); for a tuple of tasks the ``"instance"`` entry is that list and the others are stacked by
    ``default_collate``.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> dataset = SceneDataset(task="instance", length=8)
        >>> loader = DataLoader(dataset, batch_size=4, collate_fn=detection_collate)
        >>> images, targets = next(iter(loader))
        >>> images.shape, len(targets), sorted(targets[0])
        (torch.Size([4, 3, 128, 128]), 4, ['boxes', 'labels', 'masks'])
    """
    images = torch.stack([image for image, _ in batch])
    targets = [target for _, target in batch]
    if isinstance(targets[0], dict) and "boxes" not in targets[0]:
        return images, {
            key: [t[key] for t in targets]
            if key == "instance"
            else default_collate([t[key] for t in targets])
            for key in targets[0]
        }
    return images, targets
