"""Exploratory (issue 12, item 2): how far from the skeleton they went to lie the pixels an instance
takes, in that skeleton's body heights, for its own pixels and for pixels of persons without
keypoints (ignore regions), by labelled keypoints.

    python scripts/exp_reach_distances.py ../shared/data/coco_persons/annotations.json geodesic
"""
import numpy as np, sys
from p2i_prior.coco import load_persons
from p2i_prior.evaluate import predict_image
from p2i_prior.scores import GTScore
from p2i_prior.gates import instance_scales
from p2i_prior.skeleton import skeleton_mask
from p2i_prior.grid_distance import edt_cpu
ps = load_persons(sys.argv[1]); method = sys.argv[2]
g = GTScore()
own, other, wrong = [], [], []   # (d/scale, labelled) per pixel sample
for rec in ps:
    im = rec.load_image(); s = g(rec)
    lab, masks, _ = predict_image(rec, im, s, method)
    gt = rec.masks(); om = rec.other_masks().any(0) if len(rec.other_ann_ids) else np.zeros(s.shape, bool)
    H, W = s.shape
    sc = instance_scales(rec.keypoints); nl = (rec.keypoints[:, :, 2] > 0).sum(1)
    d = edt_cpu(np.ascontiguousarray(skeleton_mask(rec.keypoints, (H, W))))
    for k in range(rec.n):
        m = lab == k + 1
        r = d[k] / sc[k]
        a = m & gt[k]; b = m & om & ~gt.any(0); c = m & gt.any(0) & ~gt[k]
        own.append(np.c_[r[a], np.full(a.sum(), nl[k])]); other.append(np.c_[r[b], np.full(b.sum(), nl[k])]); wrong.append(np.c_[r[c], np.full(c.sum(), nl[k])])
own, other, wrong = (np.concatenate(x) for x in (own, other, wrong))
print("pixels own", len(own), "other-person", len(other), "other-eligible", len(wrong))
for t in (0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5):
    print(f"reach {t}: own lost {np.mean(own[:,0] > t):.3f} ({(own[:,0]>t).sum()}), other removed {np.mean(other[:,0] > t):.3f} ({(other[:,0]>t).sum()}), wrong removed {(wrong[:,0]>t).sum()}")
for lo, hi in ((1, 4), (5, 9), (10, 14), (15, 17)):
    o = own[(own[:,1] >= lo) & (own[:,1] <= hi), 0]; x = other[(other[:,1] >= lo) & (other[:,1] <= hi), 0]
    print(f"kp {lo}-{hi}: own n={len(o)} q50/90/99={np.percentile(o,[50,90,99]).round(2) if len(o) else '-'} ; other n={len(x)} q10/50={np.percentile(x,[10,50]).round(2) if len(x) else '-'}")
