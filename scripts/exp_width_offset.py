"""Exploratory (issue 12, item 1): additively weighted nearest skeleton, keypoints alone.

    python scripts/exp_width_offset.py EXTRA.json DEV.json

Each person pixel (gt score, component gate) goes to the instance with the least
``d_k - w * scale_k`` (``d_k``: Euclidean distance to skeleton k, ``scale_k``: its body height from
p2i_prior.gates.instance_scales): a bigger body is also a wider one.  Prints mean instance IoU per
``w`` for each set (w = 0 is segment_people(method="sweep")).  Not in the library: see
bench/results/eval/2026-11-29-quality-ranking.md.
"""

import sys

import numpy as np

from p2i_prior.coco import load_persons
from p2i_prior.evaluate import _iou
from p2i_prior.gates import instance_scales
from p2i_prior.masks import masks_from_labels
from p2i_prior.pipeline import component_gate, instance_distances
from p2i_prior.scores import GTScore

WIDTHS = (0.0, 0.03, 0.06, 0.1, 0.15)

for path in sys.argv[1:]:
    persons, source = load_persons(path), GTScore()
    acc = {w: [] for w in WIDTHS}
    for rec in persons:
        image, score, gt = rec.load_image(), source(rec), rec.masks()
        d = instance_distances(image, rec.keypoints, method="sweep")
        gate = component_gate(rec.keypoints, score)
        scale = np.nan_to_num(instance_scales(rec.keypoints), nan=0.0)
        for w in WIDTHS:
            dd = np.where(gate, d - (w * scale)[:, None, None], np.inf)
            best, lab = dd.min(0), dd.argmin(0) + 1
            lab[~np.isfinite(best) | (score < 0.5)] = 0
            acc[w].append(_iou(masks_from_labels(lab, rec.n).astype(bool), gt))
    print(path, {w: round(float(np.concatenate(v).mean()), 4) for w, v in acc.items()})
