"""What the benchmark suite runs (:class:`Config`) and the settings shared by its cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Config", "SEED", "TEMPERATURE", "COMPACTNESS", "EDGE_WEIGHT"]

SEED = 7
TEMPERATURE = 0.05  # p2i_prior.pipeline.DEFAULT_TEMPERATURE["rag"]
COMPACTNESS = 10.0
EDGE_WEIGHT = 10.0  # geodesic speed 1 / (1 + EDGE_WEIGHT * sobel / mean(sobel)), as the pipeline


@dataclass
class Config:
    """What the suite runs.  ``Config.quick_config()`` is the seconds-long smoke configuration.

    Sizes are ``(width, height)`` pairs; ``cases`` (None: all) selects case names from
    :data:`.cases.CASES`.
    """

    sizes: list[tuple[int, int]] = field(default_factory=lambda: [(320, 240), (640, 480), (1280, 960)])
    repeat: int = 7
    warmup: int = 1
    max_time: float = 10.0
    min_time: float = 1.0
    inputs: str = "auto"  # "auto" (coco photo when present, and synthetic), "synthetic", "coco"
    coco_dir: str | None = None
    photos: int = 1  # COCO photos per size (those with the number of people closest to n_people)
    n_segments: int = 1000
    n_people: int = 5
    seed: int = SEED
    k_values: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048, 4096])
    k_size: tuple[int, int] = (640, 480)
    max_k_floyd_warshall: int = 2048
    scaling_sizes: list[tuple[int, int]] = field(
        default_factory=lambda: [(160, 120), (320, 240), (640, 480), (1280, 960)]
    )
    scaling_segments: list[int] = field(default_factory=lambda: [250, 500, 1000, 2000, 4000])
    scaling_people: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    scaling_size: tuple[int, int] = (640, 480)
    target_size: tuple[int, int] = (640, 480)
    # numba, OpenCV, fast-slic, edt and torch threads of the run.  One by default: the scikit-image,
    # SciPy and scikit-fmm references are single-threaded, so the ratios compare one core with one
    # core (and CPU time is then a load-robust measure, bench/README.md); the ``threads`` case
    # measures what all cores bring.  None: numba's default (all cores).
    threads: int | None = 1
    cases: list[str] | None = None
    quick: bool = False

    @classmethod
    def quick_config(cls, **overrides: Any) -> "Config":
        """Tiny inputs, synthetic only: the whole suite in seconds (smoke test).

        At least 5 interleaved repeats per implementation, more until they fill 0.05 s: with 2
        repeats (the median is then the mean) one call that waited for a busy core or a stalled
        parallel region set the ratio (0.03x for a 60 us call on a loaded 2-core machine).
        """
        base = dict(
            sizes=[(80, 60)], repeat=5, warmup=1, max_time=1.0, min_time=0.05, inputs="synthetic",
            n_segments=60, n_people=3, k_values=[32, 64], k_size=(160, 120),
            max_k_floyd_warshall=64, scaling_sizes=[(64, 48), (96, 72), (128, 96)],
            scaling_segments=[20, 40, 80], scaling_people=[1, 2, 3], scaling_size=(128, 96),
            target_size=(80, 60), quick=True,
        )
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        for k in ("sizes", "scaling_sizes"):
            d[k] = [list(s) for s in d[k]]
        for k in ("k_size", "scaling_size", "target_size"):
            d[k] = list(d[k])
        return d

