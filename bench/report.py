"""Results of a suite run: targets, fitted growth, the markdown table and the PNG plots."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["TARGETS", "evaluate_targets", "fit_exponents", "markdown", "plot_all"]

#: (case, ours, reference, minimum speed-up) at the target configuration (640x480, ~1000
#: superpixels, 5 people).
TARGETS = (
    ("end_to_end", "p2i.pose_instance_map+segment_instances", "skimage+scipy pipeline", 20.0),
    ("end_to_end", "p2i.segment_people[rag]", "skimage+scipy pipeline", 20.0),
    ("slic", "p2i.slic", "skimage.slic", 8.0),
    ("rag_distance", "p2i.rag_distance[sssp]", "scipy.floyd_warshall", 100.0),
    ("edt", "p2i.euclidean_distance", "opencv.distanceTransform", 1.0),
    ("sweep_speed", "p2i.geodesic_distance", "skfmm.travel_time", 2.0),
)


def evaluate_targets(comparisons: list[dict], size: str, basis: str = "wall") -> list[dict]:
    """Where each target stands: one entry per target and input at ``size``.

    ``basis`` is the ratio that decides ``met``: ``"wall"`` (wall-clock medians) or ``"cpu"``
    (CPU-time medians; the suite uses it when every side ran on one thread, where CPU time is
    the work's time without the waits for other jobs on a loaded machine).  Both ratios are
    reported either way.

    Examples
    --------
    >>> c = [{"case": "slic", "ours": "p2i.slic", "reference": "skimage.slic", "size": "640x480",
    ...       "input": "synthetic:seed=7", "speedup": 9.0, "speedup_lo": 8.5, "speedup_hi": 9.5,
    ...       "cpu_speedup": 7.5}]
    >>> [(t["case"], t["met"]) for t in evaluate_targets(c, "640x480")]
    [('end_to_end', None), ('end_to_end', None), ('slic', True), ('rag_distance', None), ('edt', None), ('sweep_speed', None)]
    >>> [t["met"] for t in evaluate_targets(c, "640x480", basis="cpu") if t["case"] == "slic"]
    [False]
    """
    if basis not in ("wall", "cpu"):
        raise ValueError(f"basis: expected 'wall' or 'cpu', got {basis!r}")
    out = []
    for case, ours, ref, target in TARGETS:
        hits = [c for c in comparisons
                if c["case"] == case and c["ours"] == ours and c["reference"] == ref and c["size"] == size]
        if not hits:
            out.append({"case": case, "ours": ours, "reference": ref, "target": target, "size": size,
                        "input": None, "speedup": None, "cpu_speedup": None, "basis": basis, "met": None})
        for c in hits:
            cpu = c.get("cpu_speedup")
            use_cpu = basis == "cpu" and cpu is not None
            decide = cpu if use_cpu else c["speedup"]
            out.append({"case": case, "ours": ours, "reference": ref, "target": target, "size": size,
                        "input": c["input"], "speedup": c["speedup"], "speedup_lo": c["speedup_lo"],
                        "speedup_hi": c["speedup_hi"], "cpu_speedup": cpu,
                        "basis": "cpu" if use_cpu else "wall", "met": bool(decide >= target)})
    return out


def fit_exponents(scaling: list[dict]) -> dict:
    """Least-squares slope of log(time) against log(x) for each scaling axis.

    Returns ``{axis: {"exponent": b, "coefficient_s": a, "x": [...], "median_s": [...]}}`` for
    ``time ~ a * x**b``; an axis with fewer than two distinct x has ``exponent`` None.

    Examples
    --------
    >>> pts = [{"axis": "pixels", "x": x, "median_s": 1e-6 * x} for x in (100, 1000, 10000)]
    >>> round(fit_exponents(pts)["pixels"]["exponent"], 3)
    1.0
    """
    out = {}
    for axis in dict.fromkeys(p["axis"] for p in scaling):
        pts = sorted((p["x"], p["median_s"]) for p in scaling if p["axis"] == axis)
        x = np.array([p[0] for p in pts], float)
        t = np.array([p[1] for p in pts], float)
        entry = {"x": x.tolist(), "median_s": t.tolist(), "exponent": None, "coefficient_s": None}
        if len(np.unique(x)) >= 2 and (t > 0).all():
            b, loga = np.polyfit(np.log(x), np.log(t), 1)
            entry["exponent"] = float(b)
            entry["coefficient_s"] = float(math.exp(loga))
        out[axis] = entry
    return out


def _ms(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    ms = s * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _x(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "-"
    return f"{r:.3g}x" if r < 100 else f"{r:.0f}x"


def markdown(result: dict) -> str:
    """The run as a markdown report (machine, targets, comparisons, scaling, profile, skips)."""
    meta, cfg = result["meta"], result["config"]
    lines = [f"# pose2instance benchmark: {meta['date']} on {meta['host']}", ""]
    gpu = ", ".join(meta["gpu"]) or "none"
    th = meta.get("threads") or {}
    lines += [
        f"- machine: {meta['cpu']}, {meta['cores_usable']} usable cores "
        f"(run with numba threads {th.get('numba_threads')} [{th.get('numba_threading_layer')}], "
        f"OpenCV threads {th.get('opencv_threads')}), GPU: {gpu}; load average at start "
        f"{', '.join(f'{v:.1f}' for v in meta['load_average_at_start'] or [])}"
        + (f", at end {', '.join(f'{v:.1f}' for v in meta['load_average_at_end'])}"
           if meta.get("load_average_at_end") else "") + " (1, 5, 15 min)",
        f"- commit {str(meta['git_commit'])[:12]}"
        f"{' plus uncommitted: ' + '; '.join(c.strip() for c in meta.get('git_changes', [])) if meta.get('git_dirty') else ''}; "
        f"python {meta['python']}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v),
        f"- command: `{result.get('command', 'python -m p2i_bench')}`",
        f"- method: {cfg['warmup']} warm-up call(s), then {cfg['repeat']} interleaved repeats, more for "
        f"fast calls (until they fill {cfg.get('min_time', 0):g} s, at most 200), fewer for slow ones "
        f"(at most {cfg['max_time']:g} s per implementation); median and IQR; "
        "speed-up = reference median / ours median from the same run, range = "
        "[ref Q1 / ours Q3, ref Q3 / ours Q1]",
        "",
    ]
    if cfg.get("quick"):
        lines += ["**Quick (smoke) configuration: tiny inputs, not the target configuration.**", ""]
    lines += ["## Targets", "", "Status from the " + _basis_text(result) + ".", "",
              "| target | input | speed-up, wall (range) | speed-up, CPU time | goal | status |",
              "|---|---|---|---|---|---|"]
    for t in result["targets"]:
        status = "n/a" if t["met"] is None else ("met" if t["met"] else "**short**")
        rng = "" if t["speedup"] is None else f" ({_x(t['speedup_lo'])} .. {_x(t['speedup_hi'])})"
        lines.append(f"| {t['case']} {t['size']}: {t['ours']} vs {t['reference']} | {t['input']} | "
                     f"{_x(t['speedup'])}{rng} | {_x(t.get('cpu_speedup'))} | >= {t['target']:g}x | {status} |")
    lines += ["", "## Comparisons (times in ms, median [IQR])", "",
              "| case | size | input | params | ours | ours ms | reference | reference ms | speed-up, wall "
              "| speed-up, CPU time |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    rec = {(r["case"], r["size"], r["input"], r["impl"], _key(r["params"])): r for r in result["results"]}
    for c in result["comparisons"]:
        k = _key(c["params"])
        o = rec.get((c["case"], c["size"], c["input"], c["ours"], k))
        r = rec.get((c["case"], c["size"], c["input"], c["reference"], k))
        lines.append(
            f"| {c['case']} | {c['size']} | {c['input']} | {_params(c['params'])} | {c['ours']} | "
            f"{_ms(c['ours_median_s'])} [{_ms(o['iqr_s']) if o else '-'}] | {c['reference']} | "
            f"{_ms(c['reference_median_s'])} [{_ms(r['iqr_s']) if r else '-'}] | {_x(c['speedup'])}"
            f"{' (see notes)' if c.get('caveat') else ''} | {_x(c.get('cpu_speedup'))} |"
        )
    lines += _by_input(result)
    lines += _slic_quality(result)
    if result.get("notes"):
        lines += ["", "## Notes", ""]
        for n in {(n["case"], n["impl"], n["note"]): n for n in result["notes"]}.values():
            lines.append(f"- {n['case']} {n['impl']}: {n['note']}")
    if result.get("scaling_fit"):
        lines += ["", "## Scaling of the end-to-end prior (ours, synthetic scenes)", "",
                  "| axis | points (x: median ms) | fitted time ~ x^b |", "|---|---|---|"]
        for axis, f in result["scaling_fit"].items():
            pts = ", ".join(f"{x:g}: {_ms(t)}" for x, t in zip(f["x"], f["median_s"]))
            b = "-" if f["exponent"] is None else f"b = {f['exponent']:.2f}"
            lines.append(f"| {axis} | {pts} | {b} |")
    for p in result.get("profiles", []):
        # CPU times where the run has them (one thread: the load-robust figure), else wall
        use_cpu = bool(p.get("ours_cpu")) and all(v is not None for v in
                                                   list(p["ours_cpu"].values()) + list(p["reference_cpu"].values()))
        ours, ref = (p["ours_cpu"], p["reference_cpu"]) if use_cpu else (p["ours"], p["reference"])
        kind = "CPU time" if use_cpu else "wall time"
        lines += ["", f"## Stage profile: {p['case']} {p['size']} {p['input']} (median ms per stage, {kind})", "",
                  "| stage | ours | ours share | reference | reference share |", "|---|---|---|---|---|"]
        to, tr = sum(ours.values()), sum(ref.values())
        for stage in dict.fromkeys(list(ours) + list(ref)):
            o, r = ours.get(stage), ref.get(stage)
            lines.append(f"| {stage} | {_ms(o)} | {_pct(o, to)} | {_ms(r)} | {_pct(r, tr)} |")
        lines.append(f"| **total** | {_ms(to)} | | {_ms(tr)} | |")
        stages = next((c["params"].get("stages") for c in result["comparisons"]
                       if c["case"] == p["case"] and c["size"] == p["size"] and c["input"] == p["input"]
                       and c["params"].get("stages")), None)
        if stages:
            lines += ["", "Stages: reference " + "; ".join(f"**{a}** `{b}`" for a, b in stages["reference"])
                      + ". Ours " + "; ".join(f"**{a}** `{b}`" for a, b in stages["ours"]) + ". Timed: "
                      + stages["timed_ours"] + "."]
        if ours.get("slic"):
            lines += ["", f"Bound: with every stage but SLIC free, ours would be at most "
                      f"{_x(tr / ours['slic'])} faster than the reference pipeline ({kind})."]
    if result["skipped"]:
        lines += ["", "## Skipped", ""]
        for s in result["skipped"]:
            lines.append(f"- {s['case']} {s['size']} {s['impl']}: {s['reason']}")
    return "\n".join(lines) + "\n"


def _basis_text(result: dict) -> str:
    t = result.get("targets") or []
    if any(e.get("basis") == "cpu" for e in t):
        return ("CPU-time ratio (one thread on every side: CPU time is the work's time without the waits "
                "for other jobs on a loaded machine; the wall-clock ratio beside it)")
    return "wall-clock ratio (more than one thread: CPU time is not the time a user waits)"


def _by_input(result: dict) -> list[str]:
    """Speed-ups per input side by side (one row per size, pair), when the run had several inputs."""
    comps = [c for c in result["comparisons"] if c.get("input")]
    inputs = list(dict.fromkeys(c["input"] for c in comps))
    if len(inputs) < 2:
        return []
    rows: dict = {}
    for c in comps:
        rows.setdefault((c["case"], c["size"], c["ours"], c["reference"]), {})[c["input"]] = c
    lines = ["", "## Speed-ups by input (wall / CPU time)", "",
             "| case | size | ours vs reference | " + " | ".join(inputs) + " | median, CPU time, over the "
             + ("COCO photos |" if any(i.startswith("coco:") for i in inputs) else "inputs |"),
             "|---|---|---|" + "---|" * (len(inputs) + 1)]
    for (case, size, ours, ref), by in rows.items():
        cells = [f"{_x(by[i]['speedup'])} / {_x(by[i].get('cpu_speedup'))}" if i in by else "" for i in inputs]
        real = [i for i in inputs if i.startswith("coco:")] or inputs
        cpu = [by[i]["cpu_speedup"] for i in real if i in by and by[i].get("cpu_speedup")]
        med = _x(float(np.median(cpu))) if cpu else "-"
        lines.append(f"| {case} | {size} | {ours} vs {ref} | " + " | ".join(cells) + f" | {med} |")
    return lines


def _slic_quality(result: dict) -> list[str]:
    """K and boundary recall of every SLIC implementation of the run."""
    rows = []
    seen = set()
    for c in result["comparisons"]:
        p = c["params"]
        key = (c["size"], c["input"])
        if c["case"] != "slic" or key in seen or not isinstance(p.get("K"), dict):
            continue
        seen.add(key)
        br = p.get("boundary_recall_person_outline_2px", {})
        for impl, k in p["K"].items():
            rows.append(f"| {c['size']} | {c['input']} | {impl} | {k} | "
                        f"{br.get(impl, float('nan')):.3f} |")
    if not rows:
        return []
    return ["", "## SLIC: superpixels and boundary recall", "",
            "K = distinct labels for n_segments asked; boundary recall of the person outline (score >= 0.5) "
            "within 2 px (`p2i_prior.boundary_recall`).", "",
            "| size | input | implementation | K | boundary recall |", "|---|---|---|---|---|", *rows]


def _pct(v: float | None, total: float) -> str:
    return "" if v is None or not total else f"{100 * v / total:.0f}%"


def _key(params: dict) -> str:
    return repr(sorted((k, repr(v)) for k, v in params.items()))


def _params(params: dict) -> str:
    keep = ("K", "n_segments", "n_instances", "n_people")
    return ", ".join(f"{k}={params[k]}" for k in keep if k in params and not isinstance(params[k], dict))


def plot_all(result: dict, out_dir: str, stem: str) -> list[str]:
    """Write the PNG plots of a run; return their paths.

    ``<stem>-speedups.png`` (speed-up of every comparison), ``<stem>-rag-distance.png`` (time
    against K of the exact distance solvers) and ``<stem>-scaling.png`` (log-log time of the
    end-to-end prior against pixels, superpixels and people, with the fitted exponents).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    def tidy(ax):
        for a in (ax.xaxis, ax.yaxis):
            a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            a.set_major_formatter(FormatStrFormatter("%g"))
            a.set_minor_formatter(NullFormatter())

    paths = []
    comps = result["comparisons"]
    if comps:
        labels = [f"{c['case']} {c['size']} {c['input'].split(':')[0]}  "
                  f"{c['ours'].replace('p2i.', '').replace('pose_instance_map+segment_instances', 'map+segment')}"
                  f" vs {c['reference']}" + (f" K={c['params']['K']}" if 'K' in c['params'] and c['case'] == 'rag_distance_k' else "")
                  for c in comps]
        fig, ax = plt.subplots(figsize=(11, 0.26 * len(comps) + 1.5))
        y = np.arange(len(comps))
        s = np.array([c["speedup"] for c in comps])
        ax.barh(y, s, color=["tab:green" if v >= 1 else "tab:red" for v in s])
        ax.errorbar(s, y, xerr=[s - [c["speedup_lo"] for c in comps], [c["speedup_hi"] for c in comps] - s],
                    fmt="none", ecolor="k", lw=0.8)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("speed-up of pose2instance (reference median / ours median)")
        ax.set_title(f"pose2instance vs references, {result['meta']['cpu']} ({result['meta']['cores_usable']} cores)",
                     fontsize=9)
        fig.tight_layout()
        paths.append(os.path.join(out_dir, f"{stem}-speedups.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    dk = [r for r in result["results"] if r["case"] == "rag_distance_k"]
    if dk:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for (impl, src), _ in sorted({(r["impl"], r["input"].split(":")[0]): 0 for r in dk}.items()):
            pts = sorted((r["params"]["K"], r["median_s"]) for r in dk
                         if r["impl"] == impl and r["input"].split(":")[0] == src)
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-" if impl.startswith("p2i") else "s--",
                      label=f"{impl} ({src})")
        ax.set_xlabel("K (superpixels)")
        ax.set_ylabel("time per image (s)")
        ax.set_title(f"exact RAG distance, {result['config']['k_size'][0]}x{result['config']['k_size'][1]}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        tidy(ax)
        fig.tight_layout()
        paths.append(os.path.join(out_dir, f"{stem}-rag-distance.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    fits = result.get("scaling_fit") or {}
    if fits:
        fig, axes = plt.subplots(1, len(fits), figsize=(4.2 * len(fits), 3.8), squeeze=False)
        names = {"pixels": "pixels (H x W)", "superpixels": "superpixels K", "people": "people n"}
        for ax, (axis, f) in zip(axes[0], fits.items()):
            x, t = np.array(f["x"]), np.array(f["median_s"])
            pts = sorted((p["x"], p["q1_s"], p["q3_s"]) for p in result.get("scaling", [])
                         if p["axis"] == axis and "q1_s" in p)
            if len(pts) == len(x):
                err = [t - [p[1] for p in pts], [p[2] for p in pts] - t]
                ax.errorbar(x, t, yerr=np.clip(err, 0, None), fmt="o", label="measured (median, IQR)")
            else:
                ax.plot(x, t, "o", label="measured (median)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if f["exponent"] is not None:
                xx = np.geomspace(x.min(), x.max(), 50)
                ax.loglog(xx, f["coefficient_s"] * xx ** f["exponent"], "-",
                          label=f"fit: t ~ x^{f['exponent']:.2f}")
            ax.set_xlabel(names.get(axis, axis))
            ax.set_ylabel("end-to-end time (s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            tidy(ax)
        fig.suptitle("pose2instance end-to-end prior (pose_instance_map + segment_instances)", fontsize=9)
        fig.tight_layout()
        paths.append(os.path.join(out_dir, f"{stem}-scaling.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def finite_ratios(result: dict) -> bool:
    """Whether every speed-up of the run is a finite positive number."""
    vals: list[Any] = []
    for c in result["comparisons"]:
        vals += [c["speedup"], c["speedup_lo"], c["speedup_hi"]]
    return all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in vals)
