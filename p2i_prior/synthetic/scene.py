"""The scene container of :mod:`p2i_prior.synthetic`: :class:`Scene`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scene"]


@dataclass(frozen=True, eq=False, repr=False)
class Scene:
    """One synthetic scene: image, visible masks, keypoints, boxes and person scores.

    Attributes
    ----------
    image : (H, W, 3) uint8 array
        The rendered picture.
    masks : (n, H, W) bool array
        Visible part of each person (after occlusion), pairwise disjoint.
    keypoints : (n, 17, 3) float64 array
        COCO-17 ``(x, y, v)``, see the module docstring.
    boxes : (n, 4) float64 array
        COCO ``[x, y, w, h]`` of each visible mask.
    score : (H, W) float32 array
        Imperfect person score in [0, 1].
    score_exact : (H, W) float32 array
        Exact union of the masks (0 or 1).
    depth : (n,) int64 array
        Depth rank of each person, 0 = nearest the camera.
    seed : int
        ``make_scene(seed=scene.seed, ...)`` with the same other arguments regenerates it.

    The dataclass is frozen (attributes cannot be rebound); the arrays themselves stay writable so
    they can be handed to torch without copies or warnings.
    """

    image: np.ndarray
    masks: np.ndarray
    keypoints: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    score_exact: np.ndarray
    depth: np.ndarray
    seed: int

    @property
    def n_people(self) -> int:
        """Number of people ``n``."""
        return int(self.masks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Image size ``(H, W)``."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def labels(self) -> np.ndarray:
        """(H, W) int32 label image: 0 background, ``i + 1`` for person ``i``."""
        lab = np.zeros(self.shape, np.int32)
        for i in range(self.n_people):
            lab[self.masks[i]] = i + 1
        return lab

    def __repr__(self) -> str:
        H, W = self.shape
        return f"Scene(seed={self.seed}, shape=({H}, {W}), n_people={self.n_people})"
