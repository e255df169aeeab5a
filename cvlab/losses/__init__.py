"""Losses for dense prediction: each a function plus a thin ``nn.Module`` that stores its arguments.

One module per family: ``segmentation`` (cross-entropy variants, Dice, focal), ``boxes`` (IoU, GIoU), ``depth``
(scale-and-shift invariant, gradient matching, scale-invariant log).
"""

__all__: list[str] = []
