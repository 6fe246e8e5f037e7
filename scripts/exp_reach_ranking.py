"""Exploratory (issue 12): is the AP of the reach rule limited by its masks or by their ranking?

    python scripts/exp_reach_ranking.py

Geodesic, keypoints alone, gt score, on coco_persons: mean IoU and AP^r@.5 / AP^r@[.5:.95] of the masks
without the rule and with (reach, reach_min_keypoints) = (0.12, 5), (0.15, 8), (0.2, 8), ranked by
their true IoU (the best any ranking can do) and by the shipped quality model.
"""

import numpy as np
from p2i_prior.coco import load_persons, evaluate_segm, masks_to_results
from p2i_prior.evaluate import predict_image, _iou
from p2i_prior.gates import drop_unexplained
from p2i_prior.masks import masks_from_labels
from p2i_prior.quality import predict_quality
from p2i_prior.scores import GTScore
dev = load_persons('../shared/data/coco_persons/annotations.json'); gt = dev.gt_dict(); g = GTScore()
variants = {"off": None, "0.12/5": (0.12, 5), "0.15/8": (0.15, 8), "0.2/8": (0.2, 8)}
res = {v: {"oracle": [], "quality": []} for v in variants}; ious = {v: [] for v in variants}
for rec in dev:
    im = rec.load_image(); s = g(rec); G = rec.masks()
    lab0, _, _ = predict_image(rec, im, s, "geodesic", rank="score")
    for v, p in variants.items():
        lab = lab0 if p is None else drop_unexplained(lab0, rec.keypoints, p[0], min_keypoints=p[1])
        m = np.asarray(masks_from_labels(lab, rec.n), bool); keep = m.reshape(rec.n, -1).any(1)
        iou = _iou(m, G); ious[v].append(iou)
        q = predict_quality(lab, rec.keypoints, s)
        res[v]["oracle"] += masks_to_results(rec.id, m[keep], iou[keep])
        res[v]["quality"] += masks_to_results(rec.id, m[keep], q[keep])
for v in variants:
    o = evaluate_segm(gt, res[v]["oracle"]); q = evaluate_segm(gt, res[v]["quality"])
    print(v, "mean IoU", round(float(np.concatenate(ious[v]).mean()), 4), "oracle", round(o["ap50"], 3), round(o["ap"], 3), "quality", round(q["ap50"], 3), round(q["ap"], 3), "per-IoU quality", [round(x, 2) for x in q["ap_per_iou"]])
