"""Exploratory (issue 12): where a keypoint method's masks go wrong, in pixels, by labelled keypoints.

    python scripts/exp_pixel_errors.py ../shared/data/coco_persons/annotations.json geodesic ["{\"reach\": 0.12}"]

Per bin: persons, ground-truth pixels, own pixels taken by another instance, own pixels left
unassigned, pixels taken from other eligible persons, pixels taken from persons without keypoints.
"""
import numpy as np, sys
from p2i_prior.coco import load_persons
from p2i_prior.evaluate import predict_image
from p2i_prior.scores import GTScore
ps = load_persons(sys.argv[1]); method = sys.argv[2]; opts = eval(sys.argv[3]) if len(sys.argv) > 3 else {}
g = GTScore()
bins = ((1, 4), (5, 9), (10, 14), (15, 17))
acc = {b: np.zeros(6) for b in bins}
for rec in ps:
    im = rec.load_image(); s = g(rec)
    lab, masks, _ = predict_image(rec, im, s, method, options=opts, rank="score")
    gt = rec.masks(); anygt = gt.any(0)
    om = rec.other_masks().any(0) if len(rec.other_ann_ids) else np.zeros(s.shape, bool)
    nl = (rec.keypoints[:, :, 2] > 0).sum(1)
    for k in range(rec.n):
        b = [x for x in bins if x[0] <= nl[k] <= x[1]][0]
        m = lab == k + 1; G = gt[k]
        lost_other = (G & (lab > 0) & ~m).sum()      # own pixels taken by another instance
        lost_bg = (G & (lab == 0)).sum()              # own pixels left unassigned
        extra_elig = (m & anygt & ~G).sum()            # pixels of other eligible persons
        extra_other = (m & ~anygt & om).sum()          # pixels of keypoint-less / crowd persons
        extra_bg = (m & ~anygt & ~om).sum()
        acc[b] += [1, G.sum(), lost_other, lost_bg, extra_elig, extra_other]
print(method, opts)
print("kp bin | n | gt px | own lost to others | own unassigned | took eligible | took keypoint-less")
for b, v in acc.items():
    print(b, int(v[0]), *(f"{x/1e3:.0f}k" for x in v[1:]))
