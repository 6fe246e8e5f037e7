"""The learned person score, ``model:CHECKPOINT``, for the geometric pipeline.

:func:`model_source` is the ``model`` entry point of the ``p2i.score_sources`` group (declared
in ``pyproject.toml``), which ``p2i eval --score model:CHECKPOINT`` and
:func:`p2i_prior.scores.make_score_source` load: the network of the checkpoint (normally the
segmentation-only model, the paper's "DeepLab-people") runs on the whole image and its
foreground probability is the person score (:func:`p2i_net.evaluate.person_score`).

Train such a model with semantic targets and wide context, e.g.
``p2i train --model seg_only --target person --context 1.0 ...``: a model trained on instance
targets (the centred person only) learns "the person in the middle of the crop", not
"person pixels", and scores poorly as a full-image person map.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["ModelScore", "model_source"]


class ModelScore:
    """Person score from a trained network, picklable (the model loads lazily per process).

    Parameters
    ----------
    checkpoint : str
        A checkpoint written by ``p2i train``.
    max_side : int or None
        Longer side of the network input (see :func:`p2i_net.evaluate.person_score`); by
        default 1.5 x the checkpoint's training crop size, which puts typical COCO persons
        at about the scale they had in the training windows.
    device : str
        Torch device.
    threads : int or None
        ``torch.set_num_threads`` in the process that runs it (1 by default: ``p2i eval``
        parallelises over images).

    Examples
    --------
    >>> source = ModelScore("runs/seg_only/checkpoint.pt")  # doctest: +SKIP
    >>> source(record, image).shape == image.shape[:2]  # doctest: +SKIP
    True
    """

    name = "model"

    def __init__(self, checkpoint: str, *, max_side: int | None = None, device: str = "cpu",
                 threads: int | None = 1) -> None:
        if checkpoint is None:
            raise ValueError("model: expected model:CHECKPOINT (a p2i train checkpoint), got 'model'")
        checkpoint = os.fspath(checkpoint)
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"model: checkpoint not found: {checkpoint}")
        self.checkpoint = checkpoint
        self.max_side = max_side
        self.device = device
        self.threads = threads
        self._net = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_net"] = None
        return state

    def _load(self):
        if self._net is None:
            from .train import load_model

            if self.threads is not None:
                import torch

                torch.set_num_threads(int(self.threads))
            from .train import load_checkpoint

            state = load_checkpoint(self.checkpoint)
            if self.max_side is None:
                self.max_side = max(16, round(1.5 * int(state["config"].get("crop_size", 321))))
            self._net = load_model(state, device=self.device)
        return self._net

    def __call__(self, record: Any, image: Any) -> np.ndarray:
        from .evaluate import person_score

        net = self._load()
        return person_score(net, image, max_side=self.max_side)

    def __repr__(self) -> str:
        return f"ModelScore({self.checkpoint!r})"


def model_source(arg: str | None, **options: Any) -> ModelScore:
    """The ``model[:CHECKPOINT]`` score-source factory (``options`` are not used).

    Examples
    --------
    >>> from p2i_prior.scores import make_score_source
    >>> make_score_source("model:runs/seg_only/checkpoint.pt")  # doctest: +SKIP
    ModelScore('runs/seg_only/checkpoint.pt')
    """
    return ModelScore(arg)
