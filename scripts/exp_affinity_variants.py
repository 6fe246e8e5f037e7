"""Exploratory (issue 12): cross-validated variants of the affinity model on collected features.

    python -m p2i_prior.affinity_train --dev DEV.json --extra EXTRA.json --collected p2i_out/aff/collected.pkl --no-cv
    python scripts/exp_affinity_variants.py DEV.json p2i_out/aff/collected.pkl gt none,box "name:drop=a,b;smooth=2;hidden=32" ...

Each variant: ``name:key=value;...`` with keys ``drop`` (feature names the model may not use),
``smooth`` (Gaussian sigma of the vote, a fraction of sqrt(H W)), ``hidden``, ``epochs``, ``bound=1`` (also rank every method's masks by their true IoU).  Prints AP@.5 / AP / mean
IoU of box, geodesic and the variant (5-fold CV by image, the folds of p2i_prior.affinity_train).
"""
import pickle
import sys

from p2i_prior.affinity_train import cross_validate
from p2i_prior.coco import load_persons

dev = load_persons(sys.argv[1])
with open(sys.argv[2], "rb") as fh:
    collected = pickle.load(fh)
scores = tuple(sys.argv[3].split(","))
settings = tuple(sys.argv[4].split(","))
for spec in sys.argv[5:]:
    name, _, body = spec.partition(":")
    opts, smooth, bound = {}, 0.0, False
    for item in filter(None, body.split(";")):
        k, _, v = item.partition("=")
        if k == "drop":
            opts["drop"] = tuple(v.split(","))
        elif k == "smooth":
            smooth = float(v)
        elif k == "bound":
            bound = bool(int(v))
        else:
            opts[k] = int(v)
    _, lines = cross_validate(dev, collected, scores, settings, 5, "p2i_out/affinity_cache", opts, smooth=smooth,
                              progress=False, bound=bound)
    for line in lines:
        print(f"{name} {line}", flush=True)
