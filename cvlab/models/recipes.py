"""Training recipes behind the segmentation weights that notebooks 04 (FCN) and 05 (U-Net) load.

The same mechanism as the restoration recipes of :mod:`cvlab.restoration`: a frozen :class:`SegRecipe` per
weight file, with the score the shipped file reached on held-out scenes and its sha256; ``train_recipe``
reruns one, ``load_pretrained`` checks the hash and loads it, and the command line is::

    python -m cvlab.models.recipes train unet_s0 --out cvlab/models/weights

Every recipe trains on ``scene_tensors("train", n_train, size)`` (rendered once, before the clock starts; the
rendering time is recorded too) with :func:`cvlab.models.evaluate.train_and_score`: AdamW, the batches fixed by
``seed``; all but ``unet_tuned`` use cross-entropy and a cosine-annealed learning rate for 11 epochs. Models of
one comparison share everything but the network, so they are compared at equal budget. ``unet_tuned`` is the
same U-Net trained to reach 0.80 mIoU within 120 s on 2 cores: median-frequency weighted cross-entropy plus soft
Dice (the rare solids count), a one-cycle schedule peaking at ``lr = 1e-2``, random left-right flips, 25 epochs.
``reached`` holds the scores on ``scene_tensors("test", 128, size)`` (the first 128 held-out scenes) and the
measured cost: ``train_cpu_s``, CPU seconds of training in one thread (``torch.set_num_threads(1)``; an idle
2-core machine needs at most that many wall seconds), and ``render_cpu_s`` for the training scenes.
``unet_tuned`` was trained with 2 threads instead and also records ``train_s``, the wall seconds of its
training on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import process_time

import torch
from torch import Tensor, nn

from cvlab._validate import check_choice, check_int, check_tensor
from cvlab.models.evaluate import predict, scene_tensors, score, train_and_score
from cvlab.models.fcn import FCN, SegNet
from cvlab.models.shipped import WEIGHTS_DIR, load_half, save_half
from cvlab.models.unet import EncoderDecoder, UNet

__all__ = ["SegRecipe", "RECIPES", "SEEDS", "TEST_SCENES", "WEIGHTS_DIR", "build_model", "train_recipe",
           "load_pretrained", "save_half", "score_seeds", "shipped_seeds",
           "mean_sd"]

NUM_CLASSES = 7
SEEDS = (0, 1, 2)
"""Every model is shipped trained with each of these seeds, so a comparison can report mean and spread."""
TEST_SCENES = 128
"""Held-out scenes every recipe is scored on: ``scene_tensors("test", TEST_SCENES, size)``."""

_FCN_SMALL = {"widths": (8, 16, 32, 48, 64), "convs": (1, 1, 1, 1, 1), "head_width": 64}
_MODELS = {
    "unet": lambda: UNet(3, NUM_CLASSES, depth=3, width=8),
    "noskip": lambda: EncoderDecoder(3, NUM_CLASSES, depth=3, width=8),
    "fcn32s": lambda: FCN(NUM_CLASSES, "32s", **_FCN_SMALL),
    "fcn16s": lambda: FCN(NUM_CLASSES, "16s", **_FCN_SMALL),
    "fcn8s": lambda: FCN(NUM_CLASSES, "8s", **_FCN_SMALL),
    "segnet": lambda: SegNet(NUM_CLASSES, widths=_FCN_SMALL["widths"], convs=_FCN_SMALL["convs"]),
    "unet_tuned": lambda: UNet(3, NUM_CLASSES, depth=3, width=8),
}
_TRAINING = {  # what differs from SegRecipe's defaults
    "unet_tuned": {"epochs": 25, "lr": 1e-2, "loss": "wce+dice", "schedule": "onecycle", "flip": True},
}


@dataclass(frozen=True)
class SegRecipe:
    """How one shipped segmentation network was trained.

    Attributes:
        model (str): ``"unet"`` (``UNet(3, 7, depth=3, width=8)``), ``"noskip"`` (its
            :class:`~cvlab.models.EncoderDecoder`), ``"fcn32s"``, ``"fcn16s"``, ``"fcn8s"`` (:class:`~cvlab.models.FCN`
            on the small backbone of notebook 04: widths 8-64, one convolution per stage, head width 64),
            ``"segnet"`` (:class:`~cvlab.models.SegNet` on the same backbone), ``"unet_tuned"`` (the ``"unet"``
            network, trained differently).
        seed (int): initial weights (``torch.manual_seed(seed)`` before building) and batch order.
        size (int): scene side in pixels. n_train (int): training scenes.
        epochs (int): passes over them, ``n_train / batch_size`` steps each. batch_size (int), lr (float): AdamW.
        loss, schedule (str), flip (bool): as :func:`~cvlab.models.evaluate.train_and_score`.
        reached (dict): ``miou``, ``boundary_iou``, ``pixel_acc`` on the held-out scenes, ``train_cpu_s``,
            ``render_cpu_s``, recorded when the shipped file was made.
        sha256 (str): hash of the shipped weight file ``WEIGHTS_DIR / "<name>.pt"``.
    """

    model: str
    seed: int = 0
    size: int = 64
    n_train: int = 1024
    epochs: int = 11
    batch_size: int = 16
    lr: float = 3e-3
    loss: str = "ce"
    schedule: str = "cosine"
    flip: bool = False
    reached: dict = field(default_factory=dict)
    sha256: str = ""

    @property
    def steps(self) -> int:
        """Optimizer steps of the whole recipe."""
        return self.epochs * -(-self.n_train // self.batch_size)


_SHIPPED: dict[str, tuple[dict, str]] = {  # name -> (reached, sha256), printed by the command line when made
    "unet_s0": (
        {"miou": 0.5833, "boundary_iou": 0.4586, "pixel_acc": 0.8918, "train_cpu_s": 115.9, "render_cpu_s": 2.5},
        "de1eed1612caa4d3511bb92578b01d0246360fcf4cd37b94d3ee6eb03091738e",
    ),
    "unet_s1": (
        {"miou": 0.4831, "boundary_iou": 0.3861, "pixel_acc": 0.8634, "train_cpu_s": 111.0, "render_cpu_s": 2.7},
        "fa0bfb7617e6561d7fb5dd09392b5a7c30f1213bcfe43242a4497c59af47b5f3",
    ),
    "unet_s2": (
        {"miou": 0.4586, "boundary_iou": 0.3768, "pixel_acc": 0.853, "train_cpu_s": 102.0, "render_cpu_s": 2.9},
        "c21c00e7486fab96d059adcafa91c5f4184cac2a28423b04f0cd95084682423d",
    ),
    "noskip_s0": (
        {"miou": 0.4489, "boundary_iou": 0.347, "pixel_acc": 0.8498, "train_cpu_s": 111.8, "render_cpu_s": 2.5},
        "5bfd518fb727b099e5f32983f17549b105d28871d330327eebd8c6e4d83ea809",
    ),
    "noskip_s1": (
        {"miou": 0.5022, "boundary_iou": 0.3574, "pixel_acc": 0.8639, "train_cpu_s": 84.9, "render_cpu_s": 2.7},
        "f5c13b6abcfd75eac52e9152aa15a59eb0cd7f5fc08466ee4202c0facfe169de",
    ),
    "noskip_s2": (
        {"miou": 0.4497, "boundary_iou": 0.3442, "pixel_acc": 0.8499, "train_cpu_s": 71.3, "render_cpu_s": 2.8},
        "26e95559b5265e93cc2ff4c7ecb4c29b60501d56749427aa01b2429a4aa7e246",
    ),
    "fcn32s_s0": (
        {"miou": 0.4103, "boundary_iou": 0.1749, "pixel_acc": 0.7539, "train_cpu_s": 29.1, "render_cpu_s": 2.6},
        "c8ef8d5181574c01719a39d334ad93df34cdee60b0a2691e598b11f3f7148083",
    ),
    "fcn32s_s1": (
        {"miou": 0.411, "boundary_iou": 0.1739, "pixel_acc": 0.7576, "train_cpu_s": 28.6, "render_cpu_s": 2.8},
        "3438093bd946b31c30c93bfa106bedf6d05e16b19ed742c4180488008099d998",
    ),
    "fcn32s_s2": (
        {"miou": 0.4116, "boundary_iou": 0.1739, "pixel_acc": 0.7569, "train_cpu_s": 28.1, "render_cpu_s": 3.0},
        "d6216a76d4a5fbdee1e62f656e8fc098abc3914208d9673c0bfb7d6b4402e75e",
    ),
    "fcn16s_s0": (
        {"miou": 0.5293, "boundary_iou": 0.2639, "pixel_acc": 0.8446, "train_cpu_s": 28.2, "render_cpu_s": 2.8},
        "0d88b30112d6bde7234ad8e9b63f3dc2a107f4da056612484bb1ab2c81b08131",
    ),
    "fcn16s_s1": (
        {"miou": 0.518, "boundary_iou": 0.2659, "pixel_acc": 0.839, "train_cpu_s": 29.3, "render_cpu_s": 2.9},
        "17e087e543aac12bca8bcc071ddcc2b4c2eca2d7c061a197edb58635a1c8c028",
    ),
    "fcn16s_s2": (
        {"miou": 0.536, "boundary_iou": 0.2679, "pixel_acc": 0.8462, "train_cpu_s": 29.0, "render_cpu_s": 2.4},
        "457a99fbae16cd4879a320cbb4eef611b9199294ccbfa064be26d0ec56ede812",
    ),
    "fcn8s_s0": (
        {"miou": 0.5651, "boundary_iou": 0.3193, "pixel_acc": 0.8627, "train_cpu_s": 27.5, "render_cpu_s": 2.6},
        "4c6186db92d54a8fec087646b06678d8c84e377c8d4eb5865f65a99cca1d1c4f",
    ),
    "fcn8s_s1": (
        {"miou": 0.5332, "boundary_iou": 0.3058, "pixel_acc": 0.8498, "train_cpu_s": 25.9, "render_cpu_s": 2.6},
        "05fe2a3833c3d6a8084b3fac7025f1257a988b0e76aa82815c19bbb420687ffe",
    ),
    "fcn8s_s2": (
        {"miou": 0.5726, "boundary_iou": 0.3079, "pixel_acc": 0.8647, "train_cpu_s": 28.7, "render_cpu_s": 2.8},
        "2f3dd3dc25e2655f0fba4f5875b28ee534281cf243e48444a7e10a8b34a864cc",
    ),
    "unet_tuned_s0": (
        {"miou": 0.8055, "boundary_iou": 0.6268, "pixel_acc": 0.944, "train_s": 104.6, "train_cpu_s": 207.7,
         "render_cpu_s": 1.2, "threads": 2},
        "3222494a8cd22a70b0163e0b55388370705eb289fecfd015f9d08189649bbfb0",
    ),
    "unet_tuned_s1": (
        {"miou": 0.8173, "boundary_iou": 0.6264, "pixel_acc": 0.9463, "train_s": 81.9, "train_cpu_s": 162.9,
         "render_cpu_s": 1.2, "threads": 2},
        "15393eb5bdf11bb7c1443d044f1a2b1eef3527eae4b6cafd1729822c177ed1b6",
    ),
    "unet_tuned_s2": (
        {"miou": 0.836, "boundary_iou": 0.6447, "pixel_acc": 0.9497, "train_s": 85.6, "train_cpu_s": 170.4,
         "render_cpu_s": 1.2, "threads": 2},
        "30a7adeabc6ce086f42f81a28e9e5afda8e9a4ed8eedc19622853c5eefb8215c",
    ),
    "segnet_s0": (
        {"miou": 0.4395, "boundary_iou": 0.2926, "pixel_acc": 0.8248, "train_cpu_s": 51.0, "render_cpu_s": 2.8},
        "39a8454c100347f0022db965b524a48aab9ddcc81b22f55b3cabbe2f1dfc5aba",
    ),
}

RECIPES: dict[str, SegRecipe] = {
    f"{model}_s{seed}": SegRecipe(model, seed, **_TRAINING.get(model, {}),
                                  reached=_SHIPPED.get(f"{model}_s{seed}", ({}, ""))[0],
                                  sha256=_SHIPPED.get(f"{model}_s{seed}", ({}, ""))[1])
    for model in _MODELS
    for seed in SEEDS
}
"""The recipes of notebooks 04 and 05, ``"<model>_s<seed>"``; ``python -m cvlab.models.recipes train NAME``."""


def build_model(name: str) -> nn.Module:
    """A freshly initialised network of recipe ``name`` (``torch.manual_seed(recipe.seed)`` first)."""
    check_choice(name, "name", tuple(RECIPES))
    torch.manual_seed(RECIPES[name].seed)
    return _MODELS[RECIPES[name].model]()


def train_recipe(name: str, epochs: int | None = None, *, out: str | Path | None = None) -> tuple[nn.Module, dict]:
    """Train recipe ``name`` from scratch on the CPU and score it on the held-out scenes.

    Args:
        name (str): a key of :data:`RECIPES`.
        epochs (int, optional): override the recipe's epochs (a shorter run of the same recipe; the learning-rate
            schedule then spans the shorter run).
        out (str or Path, optional): save the weights as ``<out>/<name>.pt`` (float16, :func:`save_half`).

    Returns:
        (model in eval mode, dict): the :func:`~cvlab.models.evaluate.train_and_score` entries plus
        ``render_cpu_s`` and ``threads``.
    """
    check_choice(name, "name", tuple(RECIPES))
    recipe = RECIPES[name]
    epochs = check_int(epochs if epochs is not None else recipe.epochs, "epochs")
    start = process_time()
    train = scene_tensors("train", recipe.n_train, recipe.size)
    render_cpu_s = process_time() - start
    test = scene_tensors("test", TEST_SCENES, recipe.size)
    model = build_model(name)
    result = train_and_score(model, train, test, num_classes=NUM_CLASSES, epochs=epochs,
                             batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed, device="cpu",
                             loss=recipe.loss, schedule=recipe.schedule, flip=recipe.flip)
    result.update(render_cpu_s=render_cpu_s, threads=torch.get_num_threads())
    if out is not None:
        save_half(model, Path(out) / f"{name}.pt")
    return model.eval(), result


def load_pretrained(name: str) -> nn.Module:
    """The network of recipe ``name`` with its shipped weights, float32, in eval mode, on the CPU.

    The file ``WEIGHTS_DIR / "<name>.pt"`` is checked against the recipe's ``sha256`` first
    (:func:`~cvlab.models.shipped.load_half`).
    """
    check_choice(name, "name", tuple(RECIPES))
    return load_half(build_model(name), WEIGHTS_DIR / f"{name}.pt", RECIPES[name].sha256,
                     f"python -m cvlab.models.recipes train {name} --out {WEIGHTS_DIR}")


def shipped_seeds(model: str) -> tuple[int, ...]:
    """The seeds of :data:`SEEDS` whose weights ``"<model>_s<seed>"`` are shipped (have a recorded sha256)."""
    check_choice(model, "model", tuple(_MODELS))
    return tuple(seed for seed in SEEDS if RECIPES[f"{model}_s{seed}"].sha256)


def score_seeds(model: str, test: tuple[Tensor, Tensor], seeds: Sequence[int] | None = None) -> dict[str, Tensor]:
    """The :func:`~cvlab.models.evaluate.score` of the shipped weights ``"<model>_s<seed>"`` for each seed.

    Args:
        model (str): a model of the recipes (``"unet"``, ``"fcn8s"``, ...).
        test: ``(images Tensor[N, 3, H, W], labels Tensor[N, H, W])``, e.g. ``scene_tensors("test", TEST_SCENES)``.
        seeds (ints, optional): which seeds; default :func:`shipped_seeds`.

    Returns:
        dict: ``miou``, ``boundary_iou``, ``pixel_acc`` -> float64 Tensor[len(seeds)], one score per seed.
    """
    check_choice(model, "model", tuple(_MODELS))
    seeds = shipped_seeds(model) if seeds is None else tuple(seeds)
    images, labels = test
    check_tensor(images, "test images", ndim=4, shape="(N, 3, H, W)", dtype="float")
    check_tensor(labels, "test labels", ndim=3, shape="(N, H, W)", dtype="int")
    runs = [score(predict(load_pretrained(f"{model}_s{seed}"), images.cpu()), labels.cpu(), NUM_CLASSES)
            for seed in seeds]
    return {key: torch.tensor([run[key] for run in runs], dtype=torch.float64) for key in runs[0]}


def mean_sd(values: Tensor, fmt: str = ".3f") -> str:
    """``"mean ± sd"`` of the scores of several seeds (sample sd), or ``"value (1 seed)"`` for a single one."""
    check_tensor(values, "values", ndim=1, shape="(S,)", dtype="float")
    if len(values) == 1:
        return f"{float(values[0]):{fmt}} (1 seed)"
    return f"{float(values.mean()):{fmt}} ± {float(values.std()):{fmt}}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cvlab.models.recipes",
                                     description="Train a segmentation network by its course recipe (CPU).")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train recipes, save their weights and print what they reached")
    train.add_argument("names", nargs="+", choices=sorted(RECIPES), metavar="NAME")
    train.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    train.add_argument("--out", type=Path, default=Path("."), help="folder for the weight files")
    train.add_argument("--threads", type=int, default=1, help="torch threads (1: train_cpu_s is single-core)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.names:
        model, result = train_recipe(name, args.epochs)
        digest = save_half(model, args.out / f"{name}.pt")
        reached = {k: round(float(result[k]), 4) for k in ("miou", "boundary_iou", "pixel_acc")}
        reached.update({k: round(float(result[k]), 1) for k in ("train_s", "train_cpu_s", "render_cpu_s")})
        reached["threads"] = result["threads"]
        print(f"{name}: reached={reached} sha256={digest!r} params={result['params']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
