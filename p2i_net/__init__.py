"""p2i_net: the learned Pose2Seg networks (plain torch), their data, training and evaluation.

Modules (import them directly; ``import p2i_net`` does not import torch):

- :mod:`p2i_net.models`: ``seg_only()``, ``multitask()``, ``cascaded()`` (DeepLab-LargeFOV).
- :mod:`p2i_net.data`: instance crops from COCO folders and synthetic crowds.
- :mod:`p2i_net.train`: ``p2i train`` (SGD, poly LR, atomic checkpoints, resume, DDP).
- :mod:`p2i_net.evaluate`: ``p2i eval-net`` (COCOeval segm, Table 4.2 layout), the full-image
  person score, heatmap-peak keypoints.
- :mod:`p2i_net.scores`: the ``model:CHECKPOINT`` person-score source of ``p2i eval``.
"""

__all__ = ["models", "data", "train", "evaluate", "scores", "cli"]
