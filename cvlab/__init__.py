"""cvlab — the helper library of a course on dense prediction (segmentation, instances, panoptic, depth)."""

from cvlab.device import get_device, seed_everything

__version__ = "0.1.0"
__all__ = ["get_device", "seed_everything", "__version__"]
