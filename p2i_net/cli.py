"""``p2i train`` and ``p2i eval-net``: the learned models' subcommands.

``register`` only builds parsers; torch is imported inside the command functions, so
``p2i --help`` stays fast and works without torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["register", "cmd_train", "cmd_eval_net", "main"]

_TRAIN_EPILOG = """\
examples:
  p2i train --model cascaded --width 0.125 --crop-size 96 --steps 2000 --out runs/casc \\
            --synthetic 100000 --coco ../shared/data/coco_persons --threads 1
  p2i train --out runs/casc --resume          # continue an interrupted run (same flags)
  torchrun --nproc-per-node 8 -m p2i_net.cli train --model cascaded --out runs/casc
"""

_EVAL_EPILOG = """\
examples:
  p2i eval-net runs/seg/checkpoint.pt runs/multi/checkpoint.pt runs/casc/checkpoint.pt \\
               --coco ../shared/data/coco_persons --split holdout --out-md table.md
  p2i eval-net cascaded=runs/casc/checkpoint.pt --annotations ann.json --images images/
"""


def register(subparsers) -> None:
    """Add ``train`` and ``eval-net`` to the ``p2i`` parser."""
    from .train import TrainConfig

    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train a Pose2Seg network (seg_only, multitask, cascaded)",
        description="Train one of the three networks on instance crops of synthetic crowds "
                    "and/or a COCO folder.  Writes OUT/checkpoint.pt (atomically) and "
                    "OUT/log.jsonl.  Multi-process with torchrun (DDP).",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=d.out, help="output folder (default %(default)s)")
    p.add_argument("--model", default=d.model, choices=("seg_only", "multitask", "cascaded"))
    p.add_argument("--backbone", default=d.backbone, choices=("vgg16", "resnet18"),
                   help="trunk: DeepLab-LargeFOV VGG-16 or a dilated ResNet-18 (default %(default)s)")
    p.add_argument("--width", type=float, default=d.width,
                   help="channel multiplier; 1.0 = VGG-16 size (default %(default)s)")
    p.add_argument("--batch-norm", action="store_true", help="batch norm in the trunk")
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--steps", type=int, default=d.steps, help="total steps (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per process (default %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--power", type=float, default=d.power, help="poly schedule power")
    p.add_argument("--kp-weight", type=float, default=d.kp_weight, help="keypoint loss weight")
    p.add_argument("--crop-size", type=int, default=d.crop_size)
    p.add_argument("--context", type=float, default=d.context,
                   help="context margin around each box, fraction of its size (default %(default)s)")
    p.add_argument("--target", default=d.target, choices=("instance", "person"),
                   help="mask target: the centred person, or every person in the crop (a "
                        "full-image person-score model; use with --model seg_only)")
    p.add_argument("--synthetic", type=int, default=d.synthetic,
                   help="synthetic persons in the training set; 0 = none (default %(default)s)")
    p.add_argument("--synthetic-size", type=int, nargs=2, default=list(d.synthetic_size),
                   metavar=("H", "W"))
    p.add_argument("--synthetic-people", type=int, default=d.synthetic_people)
    p.add_argument("--coco", default=None, help="COCO folder (annotations.json + images/) to add")
    p.add_argument("--coco-split", default=d.coco_split, choices=("train", "holdout", "all"))
    p.add_argument("--holdout", type=float, default=d.holdout, help="held-out image fraction")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers, help="data-loader processes")
    p.add_argument("--device", default=d.device, choices=("auto", "cpu", "cuda"))
    p.add_argument("--ckpt-every", type=int, default=d.ckpt_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt when it exists")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop (with a checkpoint) after this many steps of this invocation")
    p.set_defaults(func=cmd_train)

    e = subparsers.add_parser(
        "eval-net", help="evaluate trained networks (COCOeval segm, Table 4.2 layout)",
        description="Paste each network's masks (oracle boxes) into the images and score them "
                    "with COCOeval segm exactly as `p2i eval` does; print the Table 4.2 layout.",
        epilog=_EVAL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("checkpoints", nargs="+", metavar="[NAME=]CHECKPOINT",
                   help="checkpoints; the row name defaults to the model kind")
    e.add_argument("--coco", default=None, help="COCO folder (annotations.json + images/)")
    e.add_argument("--annotations", default=None, help="COCO keypoints json (instead of --coco)")
    e.add_argument("--images", default=None, help="image folder (with --annotations)")
    e.add_argument("--split", default="all", choices=("train", "holdout", "all"),
                   help="image split of --coco/--annotations (same split as p2i train)")
    e.add_argument("--holdout", type=float, default=0.2)
    e.add_argument("--crop-size", type=int, default=None, help="default: the training crop size")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--out-json", default=None, help="write the table as JSON")
    e.add_argument("--out-md", default=None, help="write the table as Markdown")
    e.add_argument("--results-dir", default=None,
                   help="write COCO results: NAME_segm.json and NAME_keypoints.json (heatmap peaks)")
    e.add_argument("--kp-threshold", type=float, default=0.1,
                   help="heatmap peak height for a predicted keypoint to be found (v=2)")
    e.add_argument("--references", action="store_true",
                   help="add two reference rows: the oracle box as mask, and the ground truth "
                        "through the crop/paste-back (the crop-size ceiling)")
    e.add_argument("--progress", action="store_true")
    e.set_defaults(func=cmd_eval_net)


def cmd_train(args) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(
        out=args.out, model=args.model, backbone=args.backbone, width=args.width, batch_norm=args.batch_norm,
        dropout=args.dropout, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, power=args.power,
        kp_weight=args.kp_weight, crop_size=args.crop_size, context=args.context,
        target=args.target, synthetic=args.synthetic,
        synthetic_size=tuple(args.synthetic_size), synthetic_people=args.synthetic_people,
        coco=args.coco, coco_split=args.coco_split, holdout=args.holdout, seed=args.seed,
        workers=args.workers, device=args.device, ckpt_every=args.ckpt_every,
        log_every=args.log_every, threads=args.threads, progress=not args.no_progress)
    out = train(cfg, resume=args.resume, stop_after=args.stop_after)
    if int(os.environ.get("RANK", "0")) == 0:
        state = "done" if out["done"] else "stopped"
        print(f"{state} at step {out['step']}/{out['steps']}: loss {out['loss']:.4f}, "
              f"{out['images_per_s']:.1f} images/s; checkpoint {out['checkpoint']}")
    return 0


def _parse_checkpoints(items: list[str]) -> dict[str, str]:
    from .train import load_checkpoint

    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            path = item
            name = load_checkpoint(path)["model_config"]["kind"]
        if name in out:
            raise ValueError(f"checkpoints: expected distinct row names, got {name!r} twice "
                             "(name them: NAME=CHECKPOINT)")
        out[name] = path
    return out


def cmd_eval_net(args) -> int:
    from .evaluate import evaluate_checkpoints, format_table

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.coco:
        ann = os.path.join(args.coco, "annotations.json")
        images = args.images or os.path.join(args.coco, "images")
    elif args.annotations:
        ann, images = args.annotations, args.images
    else:
        raise ValueError("--coco/--annotations: expected a COCO folder or an annotations file, got neither")
    from p2i_prior.coco import load_persons

    from .data import split_image_ids

    persons = load_persons(ann, images)
    ids = None
    if args.split != "all":
        tr, ho = split_image_ids([im.id for im in persons], holdout=args.holdout, seed=0)
        ids = tr if args.split == "train" else ho
    table = evaluate_checkpoints(_parse_checkpoints(args.checkpoints), persons, image_ids=ids,
                                 crop_size=args.crop_size, device=args.device,
                                 results_dir=args.results_dir, kp_threshold=args.kp_threshold,
                                 progress=args.progress)
    if args.references:
        from .evaluate import reference_rows

        sizes = {r["crop_size"] for r in table["rows"].values()}
        table["rows"].update(reference_rows(persons, crop_size=max(sizes), image_ids=ids))
    table["split"] = args.split
    text = format_table(table)
    print(text)
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump(table, f, indent=1)
    if args.out_md:
        with open(args.out_md, "w") as f:
            f.write(text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m p2i_net.cli {train,eval-net} ...``: the two commands without the rest of ``p2i``.

    Handy under ``torchrun`` (``torchrun --nproc-per-node 8 -m p2i_net.cli train ...``): it
    imports nothing of the geometric pipeline (only ``p2i_prior.cli``'s runner).  Errors print as ``p2i COMMAND: error: ...``
    and return 2, as in ``p2i``.
    """
    from p2i_prior.cli import run

    parser = argparse.ArgumentParser(prog="python -m p2i_net.cli")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    return run(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
