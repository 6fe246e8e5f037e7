"""Benchmark inputs: a seeded synthetic scene, or a real COCO photo resized to the size asked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import SEED, Config

__all__ = ["Inputs", "synthetic_input", "coco_input", "coco_inputs", "default_coco_dir", "inputs_for"]


@dataclass
class Inputs:
    """One benchmark input: an image, its people's keypoints and a person score."""

    source: str  # "synthetic:seed=7" or "coco:<image id>"
    image: np.ndarray  # (H, W, 3) uint8
    keypoints: np.ndarray  # (n, 17, 3) float64
    score: np.ndarray  # (H, W) float32 in [0, 1]

    @property
    def kind(self) -> str:
        """``"synthetic"`` or ``"coco"``."""
        return self.source.split(":", 1)[0]

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def synthetic_input(width: int, height: int, n_people: int = 5, seed: int = SEED) -> Inputs:
    """A seeded synthetic scene from :func:`p2i_prior.synthetic.make_scene`.

    Examples
    --------
    >>> x = synthetic_input(64, 48, n_people=2)
    >>> x.image.shape, x.keypoints.shape
    ((48, 64, 3), (2, 17, 3))
    """
    from p2i_prior.synthetic import make_scene

    scene = make_scene(seed=seed, height=height, width=width, n_people=n_people)
    return Inputs(f"synthetic:seed={seed}", scene.image, scene.keypoints, scene.score.astype(np.float32))


def default_coco_dir() -> str:
    """``$P2I_COCO_PERSONS``, else ``../shared/data/coco_persons`` beside the repository."""
    env = os.environ.get("P2I_COCO_PERSONS")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.abspath(os.path.join(root, "..", "shared", "data", "coco_persons"))


@lru_cache(maxsize=4)
def _coco_photos(coco_dir: str, n_people: int, photos: int = 1) -> tuple:
    """The ``photos`` photos whose number of people is closest to ``n_people`` (ties: lowest id)."""
    from p2i_prior.coco import load_persons

    ann = os.path.join(coco_dir, "annotations.json")
    if not os.path.isfile(ann):
        return ()
    persons = load_persons(ann, os.path.join(coco_dir, "images"), missing_images="skip")
    ranked = sorted(persons, key=lambda p: (abs(p.n - n_people), p.id))[:photos]
    return tuple((p.id, p.load_image(), p.keypoints.copy(), p.person_mask()) for p in ranked)


def _coco_photo(coco_dir: str, n_people: int):
    """The photo with the number of people closest to ``n_people`` (ties: lowest id)."""
    found = _coco_photos(coco_dir, n_people, 1)
    return found[0] if found else None


def _resized(photo, width: int, height: int) -> Inputs:
    from PIL import Image

    image_id, image, kp, person = photo
    h0, w0 = image.shape[:2]
    img = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    score = np.asarray(
        Image.fromarray(person.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)
    ).astype(np.float32) / 255.0
    kp = kp.copy()
    kp[..., 0] *= width / w0
    kp[..., 1] *= height / h0
    return Inputs(f"coco:{image_id}", np.ascontiguousarray(img), kp, score)


def coco_input(width: int, height: int, n_people: int = 5, coco_dir: str | None = None) -> Inputs | None:
    """A real COCO photo resized to ``width x height`` (None when the data is absent).

    The photo is the one of ``coco_dir`` whose number of annotated people is closest to
    ``n_people``; it is resized (bilinear, aspect not kept) and its keypoints scaled with it.
    The person score is the union of the people's ground-truth masks, resized (nearest).
    """
    photo = _coco_photo(coco_dir or default_coco_dir(), n_people)
    return None if photo is None else _resized(photo, width, height)


def coco_inputs(width: int, height: int, n_people: int = 5, coco_dir: str | None = None,
                photos: int = 1) -> list[Inputs]:
    """The ``photos`` COCO photos with the number of people closest to ``n_people`` (ties: lowest
    id), each resized as :func:`coco_input` does; empty when the data is absent."""
    return [_resized(p, width, height) for p in _coco_photos(coco_dir or default_coco_dir(), n_people, photos)]


def inputs_for(config: Config, width: int, height: int, n_people: int | None = None) -> list[Inputs]:
    """The inputs of one size under ``config.inputs`` (coco skipped silently when absent)."""
    n = config.n_people if n_people is None else n_people
    out = []
    if config.inputs in ("auto", "coco"):
        xs = coco_inputs(width, height, n, config.coco_dir, config.photos)
        out.extend(xs)
        if not xs and config.inputs == "coco":
            raise FileNotFoundError(
                f"inputs: expected COCO persons data in {config.coco_dir or default_coco_dir()}, found none"
            )
    if config.inputs in ("auto", "synthetic"):
        out.append(synthetic_input(width, height, n, config.seed))
    return out
