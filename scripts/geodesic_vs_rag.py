"""segment_people(method="geodesic") against method="rag" on real photos, and the geodesic
labels against the per-instance marches they replace.

``time``: the test photos (tests/data/coco) and the N photos of ../shared/data/coco_persons with
the most people; per photo, interleaved repeats (median) of ``segment_people`` with ``rag``,
with ``geodesic`` (the one multi-label march, the default), with ``geodesic`` and
``exact_geodesic=True`` (bounded per-instance marches), of the per-instance path that
segment_people took before (a full march per instance through ``fusion.nearest_instances``,
still the path of ``extent``), and of SLIC alone (rag's largest step: the last column is the
ratio were SLIC twice as fast).  ``check``: on every coco_persons photo, the person pixels
whose owner differs from that per-instance path (default) and whether ``exact_geodesic=True``
equals it bit for bit.  One numba thread unless ``--threads``; the load average printed with
every table; both the CPU time of this process (robust when other processes share the cores)
and the wall time::

    python scripts/geodesic_vs_rag.py time --top 5 --repeat 5 --json out.json
    python scripts/geodesic_vs_rag.py check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERSONS = os.path.join(ROOT, "..", "shared", "data", "coco_persons")
TEST_COCO = os.path.join(ROOT, "tests", "data", "coco")


def per_instance_labels(image, keypoints, score, *, boxes=None, threshold=0.5):
    """The labels segment_people(method="geodesic", extent=None) gave before the one-march path:
    a full fast march per instance, gated, through ``fusion.nearest_instances``."""
    from p2i_prior import pipeline as P
    from p2i_prior.fusion import nearest_instances

    img, kp = P._check_image_and_keypoints(image, keypoints)
    H, W = img.shape[:2]
    comp, touched = P._touched_components(kp, score >= threshold)

    def chunks():
        for start, d in P._distance_chunks(img, kp, method="geodesic", chunk=8, **P._distance_defaults({})):
            stop = start + d.shape[0]
            gate = P._gates(kp[start:stop], H, W, None if boxes is None else boxes[start:stop], None)
            c = touched[start:stop][:, comp]
            yield start, d, c if gate is None else gate & c

    return nearest_instances(chunks(), score, threshold)


def load(path):
    from p2i_prior.coco import load_persons

    return load_persons(os.path.join(path, "annotations.json"), os.path.join(path, "images"))


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cmd_time(args) -> dict:
    import numba

    import p2i_prior as p

    numba.set_num_threads(args.threads)
    photos = [("tests/data/coco", r) for r in load(TEST_COCO)]
    if os.path.isdir(PERSONS):
        persons = sorted(load(PERSONS), key=lambda r: (-r.n, r.id))
        ids = {int(x) for x in args.ids.split(",")} if args.ids else set()
        photos += [("coco_persons", r) for i, r in enumerate(persons) if i < args.top or r.id in ids]
    runs = {
        "rag": lambda im, r, s: p.segment_people(im, r.keypoints, s, method="rag"),
        "geodesic": lambda im, r, s: p.segment_people(im, r.keypoints, s, method="geodesic"),
        "geodesic_exact": lambda im, r, s: p.segment_people(im, r.keypoints, s, method="geodesic",
                                                            exact_geodesic=True),
        "geodesic_before": lambda im, r, s: per_instance_labels(im, r.keypoints, s),
        "slic": lambda im, r, s: p.slic(im),  # rag's SLIC alone (being made faster elsewhere)
    }
    data = []
    for src, r in photos:
        im = r.load_image()
        s = r.person_mask().astype(np.float32)
        data.append((src, r, im, s))
        for f in runs.values():  # warm-up (compilation)
            f(im, r, s)
    times = {(i, m): [] for i in range(len(data)) for m in runs}
    cpu = {(i, m): [] for i in range(len(data)) for m in runs}
    loads = [load_avg()]
    for _ in range(args.repeat):
        for i, (src, r, im, s) in enumerate(data):
            for m, f in runs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                f(im, r, s)
                times[i, m].append(time.perf_counter() - t0)
                cpu[i, m].append(time.process_time() - c0)
        loads.append(load_avg())
    rows = []
    for i, (src, r, im, s) in enumerate(data):
        row = dict(source=src, image_id=int(r.id), file=r.file_name, people=r.n, size=f"{im.shape[1]}x{im.shape[0]}")
        for clock, rec in (("wall", times), ("cpu", cpu)):
            med = {m: 1e3 * float(np.median(rec[i, m])) for m in runs}
            row[clock] = dict(ms=med, ratio=med["geodesic"] / med["rag"],
                              ratio_exact=med["geodesic_exact"] / med["rag"],
                              ratio_before=med["geodesic_before"] / med["rag"],
                              ratio_slic2x=med["geodesic"] / (med["rag"] - med["slic"] / 2))
        rows.append(row)
    out = dict(command=" ".join([os.path.basename(sys.executable)] + sys.argv), threads=args.threads,
               repeat=args.repeat, load=loads, machine=platform.processor() or platform.machine(),
               cpus=os.cpu_count(), rows=rows)
    for clock in ("cpu", "wall"):
        what = "CPU time of this process (process_time)" if clock == "cpu" else "wall time (perf_counter)"
        print(f"\n{what}, numba threads {args.threads}, {args.repeat} interleaved repeats, median ms; "
              f"load {loads[0]} -> {loads[-1]}")
        print("| photo | n | size | rag (SLIC) | geodesic before | geodesic | exact_geodesic | before/rag | "
              "geodesic/rag | exact/rag | geodesic/rag, SLIC 2x |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            c = row[clock]
            ms = c["ms"]
            print(f"| {row['file']} | {row['people']} | {row['size']} | {ms['rag']:.1f} ({ms['slic']:.1f}) | "
                  f"{ms['geodesic_before']:.1f} | {ms['geodesic']:.1f} | {ms['geodesic_exact']:.1f} | "
                  f"{c['ratio_before']:.2f} | {c['ratio']:.2f} | {c['ratio_exact']:.2f} | {c['ratio_slic2x']:.2f} |")
    return out


def cmd_check(args) -> dict:
    import numba

    import p2i_prior as p

    numba.set_num_threads(args.threads)
    rows = []
    tot_diff = tot_person = 0
    exact_equal = True
    for r in load(PERSONS):
        im = r.load_image()
        s = r.person_mask().astype(np.float32)
        ref = per_instance_labels(im, r.keypoints, s)
        got = p.segment_people(im, r.keypoints, s, method="geodesic")
        ex = p.segment_people(im, r.keypoints, s, method="geodesic", exact_geodesic=True)
        person = int((s >= 0.5).sum())
        diff = int((got != ref).sum())
        same = bool(np.array_equal(ex, ref))
        exact_equal &= same
        tot_diff += diff
        tot_person += person
        rows.append(dict(image_id=int(r.id), people=r.n, person_pixels=person, differ=diff, exact_equal=same))
    print(f"{len(rows)} photos, {tot_person} person pixels: {tot_diff} ({100 * tot_diff / max(1, tot_person):.3f}%) "
          f"owned differently from the per-instance marches; exact_geodesic equal on every photo: {exact_equal}")
    worst = sorted(rows, key=lambda x: -x["differ"])[:5]
    print("most differing photos:", ", ".join(f"{w['image_id']} (n={w['people']}, {w['differ']} px of "
                                              f"{w['person_pixels']})" for w in worst))
    return dict(threads=args.threads, photos=len(rows), person_pixels=tot_person, differ=tot_diff,
                exact_equal=exact_equal, rows=rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["time", "check"])
    ap.add_argument("--top", type=int, default=5, help="coco_persons photos with the most people")
    ap.add_argument("--ids", default="", help="also these coco_persons image ids (comma-separated)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    out = cmd_time(args) if args.what == "time" else cmd_check(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
