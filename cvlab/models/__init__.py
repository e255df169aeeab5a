"""Small models that train on a CPU within a lesson's budget: FCN, U-Net, depth, multi-task, Mask R-CNN factory."""

__all__: list[str] = []

# a very small segmentation network for many short trainings (notebook 06)
from cvlab.models.tiny import TinySegNet  # noqa: E402

__all__ += ["TinySegNet"]

# restoration networks (unit 7)
from cvlab.models.restoration import EDSR, DnCNN  # noqa: E402

__all__ += ["DnCNN", "EDSR"]
