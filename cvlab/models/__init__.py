"""Small models that train on a CPU within a lesson's budget: FCN, U-Net, depth, multi-task, Mask R-CNN factory."""

__all__: list[str] = []

# a very small segmentation network for many short trainings (notebook 06)
from cvlab.models.tiny import TinySegNet  # noqa: E402

__all__ += ["TinySegNet"]

# restoration networks (unit 7)
from cvlab.models.restoration import EDSR, DnCNN  # noqa: E402

__all__ += ["DnCNN", "EDSR"]

# --- segmentation models (issue 10, unit 3) ---
from cvlab.models.dilated import CONTEXT_DILATIONS, ContextModule  # noqa: E402
from cvlab.models.fcn import FCN, FCN_VARIANTS, PatchClassifier, SegNet, VGGBackbone, bilinear_upsampler  # noqa: E402
from cvlab.models.receptive import input_gradient, receptive_field  # noqa: E402
from cvlab.models.unet import EncoderDecoder, SizeStep, UNet, unet_valid_sizes  # noqa: E402

__all__ += [
    "FCN",
    "FCN_VARIANTS",
    "SegNet",
    "PatchClassifier",
    "VGGBackbone",
    "bilinear_upsampler",
    "UNet",
    "EncoderDecoder",
    "SizeStep",
    "unet_valid_sizes",
    "ContextModule",
    "CONTEXT_DILATIONS",
    "receptive_field",
    "input_gradient",
]

# multi-task dense prediction (issue 13, unit 6)
from cvlab.models.multitask import MultiTaskNet  # noqa: E402

__all__ += ["MultiTaskNet"]
