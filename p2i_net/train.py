"""Training the Pose2Seg networks (``p2i train``).

SGD with momentum 0.9 and weight decay, a poly learning rate ``lr * (1 - step / steps) ** 0.9``,
batch 16 per process by default.  On CUDA: bf16 autocast and channels-last.  Multi-process
(multi-GPU, multi-node) through ``torch.distributed`` when launched by ``torchrun`` (NCCL on
CUDA, gloo on the CPU): every process takes its own block of each global batch
(:class:`p2i_net.data.StepBatchSampler`) and DistributedDataParallel averages the gradients.

Checkpoints
-----------
``OUT/checkpoint.pt`` holds the model, the optimizer (momentum buffers), the step, the run's
configuration and every process's RNG states.  It is written atomically (a temporary file in
the same folder, flushed and fsynced, then ``os.replace``), so a kill mid-write leaves the
previous checkpoint intact.  Because the data of step ``s`` depends only on ``s`` and the seed,
``--resume`` continues to the same weights, bit for bit on the CPU, as an uninterrupted run.

Log
---
``OUT/log.jsonl``: one JSON object per logged step: ``step``, ``lr``, ``loss``, ``loss_seg``,
``loss_kp``, ``images_per_s`` (all processes), ``elapsed_s``; plus ``event`` records (start,
resume, checkpoint, done).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from p2i_prior.checks import check_choice, check_positive_float, check_positive_int

__all__ = ["TrainConfig", "train", "save_checkpoint", "load_checkpoint", "load_model",
           "compute_loss", "build_dataset", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "p2i_net.checkpoint/1"


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in the checkpoint).

    Attributes
    ----------
    out : str
        Output folder (``checkpoint.pt``, ``log.jsonl``).
    model : {"seg_only", "multitask", "cascaded"}
    backbone : {"vgg16", "resnet18"}
        The trunk (see :mod:`p2i_net.models`).
    width : float
        Channel multiplier of the network (1.0: VGG-16 size).
    batch_norm : bool
        Batch normalisation in the trunk.
    dropout : float
        Dropout after fc6 and fc7.
    steps : int
        Total optimisation steps.
    batch_size : int
        Per-process batch.
    lr, momentum, weight_decay, power : float
        SGD and poly-schedule settings.
    kp_weight : float
        Weight of the keypoint-heatmap loss (multitask, cascaded).
    crop_size : int
        Side of the instance crops.
    context : float
        Context margin of the crops around each box (see :func:`p2i_net.data.crop_window`).
    target : {"instance", "person"}
        Mask target: the centred person (instance segmentation) or every person in the crop
        (semantic: a full-image person-score model, normally with ``model="seg_only"`` and a
        wide ``context``).
    synthetic : int
        Number of synthetic persons in the training set (0: none).
    synthetic_size : (int, int)
        Synthetic scene height, width.
    synthetic_people : int
        People per synthetic scene.
    coco : str or None
        A COCO folder (``annotations.json`` + ``images/``) whose persons join the training set.
    coco_split : {"train", "holdout", "all"}
        Which images of ``coco`` (split by :func:`p2i_net.data.split_image_ids`).
    holdout : float
        Held-out fraction of the COCO images.
    seed : int
        Seeds the weights, the data order, augmentation and dropout.
    workers : int
        Data-loader worker processes.
    device : {"auto", "cpu", "cuda"}
    ckpt_every : int
        Checkpoint every this many steps (and at the end).
    log_every : int
        Log every this many steps.
    threads : int or None
        ``torch.set_num_threads`` (None: leave torch's default).
    progress : bool
        Show a tqdm bar (process 0).
    """

    out: str = "runs/p2i"
    model: str = "cascaded"
    backbone: str = "vgg16"
    width: float = 1.0
    batch_norm: bool = False
    dropout: float = 0.5
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    power: float = 0.9
    kp_weight: float = 1.0
    crop_size: int = 321
    context: float = 0.15
    target: str = "instance"
    synthetic: int = 100_000
    synthetic_size: tuple[int, int] = (192, 192)
    synthetic_people: int = 3
    coco: str | None = None
    coco_split: str = "train"
    holdout: float = 0.2
    seed: int = 0
    workers: int = 0
    device: str = "auto"
    ckpt_every: int = 500
    log_every: int = 10
    threads: int | None = None
    progress: bool = True

    def validate(self) -> "TrainConfig":
        """Check every field; return ``self``.  Raises ValueError/TypeError naming the field."""
        check_choice(self.model, "model", ("seg_only", "multitask", "cascaded"))
        check_choice(self.backbone, "backbone", ("vgg16", "resnet18"))
        check_positive_float(self.width, "width")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_float(self.lr, "lr")
        check_positive_float(self.momentum, "momentum", allow_zero=True)
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive_float(self.power, "power", allow_zero=True)
        check_positive_float(self.kp_weight, "kp_weight", allow_zero=True)
        check_positive_int(self.crop_size, "crop_size", minimum=8)
        check_positive_float(self.context, "context", allow_zero=True)
        check_choice(self.target, "target", ("instance", "person"))
        check_positive_int(self.synthetic, "synthetic", minimum=0)
        check_positive_int(self.synthetic_people, "synthetic_people")
        check_choice(self.coco_split, "coco_split", ("train", "holdout", "all"))
        check_positive_int(self.seed, "seed", minimum=0)
        check_positive_int(self.workers, "workers", minimum=0)
        check_choice(self.device, "device", ("auto", "cpu", "cuda"))
        check_positive_int(self.ckpt_every, "ckpt_every")
        check_positive_int(self.log_every, "log_every")
        if self.threads is not None:
            check_positive_int(self.threads, "threads")
        if self.synthetic == 0 and not self.coco:
            raise ValueError("synthetic, coco: expected a training source (synthetic > 0 or a coco folder), got neither")
        return self

    def model_config(self) -> dict:
        return {"kind": self.model, "width": float(self.width), "batch_norm": bool(self.batch_norm),
                "dropout": float(self.dropout), "backbone": self.backbone}


# Fields that must agree between a checkpoint and a resumed run (the rest may change, e.g.
# workers, progress, ckpt_every).
_RESUME_FIXED = ("model", "backbone", "width", "batch_norm", "dropout", "steps", "batch_size", "lr",
                 "momentum", "weight_decay", "power", "kp_weight", "crop_size", "context",
                 "target", "synthetic",
                 "synthetic_size", "synthetic_people", "coco", "coco_split", "holdout", "seed")


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def save_checkpoint(state: dict, path: str) -> None:
    """Write ``state`` with ``torch.save`` atomically (temp file, fsync, ``os.replace``).

    Parameters
    ----------
    state : dict
        What to save.
    path : str
        Destination; its folder is created if needed.

    Examples
    --------
    >>> save_checkpoint({"step": 3}, "/tmp/run/checkpoint.pt")  # doctest: +SKIP
    """
    import torch

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass


def load_checkpoint(path: str) -> dict:
    """Read a checkpoint written by :func:`train`, with clear errors for bad files.

    Parameters
    ----------
    path : str

    Returns
    -------
    dict
        ``format``, ``model_config``, ``model`` (state dict), ``optimizer``, ``step``,
        ``config``, ``rng``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Truncated or corrupt file, or not a p2i_net checkpoint (the message says which).

    Examples
    --------
    >>> ckpt = load_checkpoint("runs/p2i/checkpoint.pt")  # doctest: +SKIP
    >>> ckpt["step"]  # doctest: +SKIP
    1000
    """
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: file not found: {path}")
    size = os.path.getsize(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip errors, unpickling errors, EOF
        raise ValueError(
            f"checkpoint: cannot read {path} ({size} bytes): truncated or corrupt file "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"checkpoint: expected a {CHECKPOINT_FORMAT!r} file in {path}, got {got!r}")
    missing = [k for k in ("model_config", "model", "step", "config") if k not in state]
    if missing:
        raise ValueError(f"checkpoint: {path} lacks {missing} (incomplete checkpoint)")
    return state


def load_model(checkpoint: Any, *, device: str = "cpu"):
    """Build the network of a checkpoint and load its weights (eval mode).

    Parameters
    ----------
    checkpoint : str or dict
        A path or a dict from :func:`load_checkpoint`.
    device : str
        Torch device for the model.

    Returns
    -------
    p2i_net.models.Pose2SegNet

    Examples
    --------
    >>> net = load_model("runs/p2i/checkpoint.pt")  # doctest: +SKIP
    >>> net.kind  # doctest: +SKIP
    'cascaded'
    """
    from .models import build_model

    state = load_checkpoint(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
    cfg = dict(state["model_config"])
    kind = cfg.pop("kind")
    net = build_model(kind, **cfg)
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint: weights do not fit a {kind} model {cfg}: {str(exc).splitlines()[0]}") from None
    return net.to(device).eval()


# --------------------------------------------------------------------------------------------
# data and loss
# --------------------------------------------------------------------------------------------


def build_dataset(config: TrainConfig, *, train: bool = True):
    """The training :class:`p2i_net.data.InstanceCrops` of a configuration.

    Synthetic persons (stream seeded by ``config.seed``) followed by the chosen split of the
    COCO folder.

    Examples
    --------
    >>> ds = build_dataset(TrainConfig(synthetic=100, crop_size=64))  # doctest: +SKIP
    """
    from .data import ConcatSource, InstanceCrops, SyntheticSource

    sources = []
    if config.synthetic:
        h, w = config.synthetic_size
        sources.append(SyntheticSource(config.synthetic, seed=config.seed, height=h, width=w,
                                       n_people=config.synthetic_people))
    if config.coco:
        sources.append(coco_source(config.coco, config.coco_split, config.holdout, seed=config.seed))
    source = sources[0] if len(sources) == 1 else ConcatSource(sources)
    if len(source) == 0:
        raise ValueError("coco: the chosen split holds no person")
    return InstanceCrops(source, crop_size=config.crop_size, train=train, context=config.context,
                         target=config.target)


def coco_source(folder: str, split: str, holdout: float, *, seed: int = 0):
    """A :class:`p2i_net.data.CocoSource` over one split of a COCO folder.

    ``folder`` holds ``annotations.json`` and ``images/``; ``split`` is ``train``,
    ``holdout`` or ``all`` (see :func:`p2i_net.data.split_image_ids`).  The split depends on
    ``seed`` only through the fixed split seed 0 (so every run holds out the same images).

    Examples
    --------
    >>> src = coco_source("coco_persons", "holdout", 0.2)  # doctest: +SKIP
    """
    from p2i_prior.coco import load_persons

    from .data import CocoSource, split_image_ids

    check_choice(split, "split", ("train", "holdout", "all"))
    ann = os.path.join(folder, "annotations.json")
    if not os.path.isfile(ann):
        raise FileNotFoundError(f"coco: expected {ann} (a COCO folder with annotations.json and images/)")
    persons = load_persons(ann, os.path.join(folder, "images"))
    ids = [im.id for im in persons]
    tr, ho = split_image_ids(ids, holdout=holdout, seed=0)
    keep = {"train": tr, "holdout": ho, "all": ids}[split]
    return CocoSource(persons, image_ids=keep)


def compute_loss(outputs: dict, batch: dict, *, kp_weight: float = 1.0) -> tuple[Any, dict]:
    """The training loss: 2-class cross-entropy on the mask plus weighted heatmap BCE.

    The keypoint term is the binary cross-entropy of the heatmap logits against the Gaussian
    targets minus the targets' entropy (i.e. the per-pixel binary KL divergence: same gradients
    as the BCE, but 0 for a perfect prediction), averaged over pixels and over the labelled
    keypoints only (``kp_weight`` of the batch, see :mod:`p2i_net.data`), times ``kp_weight``.
    Computed in float32.

    Parameters
    ----------
    outputs : dict
        The network's outputs (``seg`` (B, 2, S, S); ``heatmaps`` (B, 17, S, S) if present).
    batch : dict
        ``mask`` (B, S, S) int64, ``heatmaps`` (B, 17, S, S), ``kp_weight`` (B, 17).
    kp_weight : float
        Weight of the keypoint term.

    Returns
    -------
    loss : scalar tensor
    parts : dict
        ``loss_seg`` and ``loss_kp`` as floats (``loss_kp`` 0 without heatmaps).

    Examples
    --------
    >>> loss, parts = compute_loss(net(batch["image"]), batch)  # doctest: +SKIP
    """
    import torch
    from torch.nn import functional as F

    seg = F.cross_entropy(outputs["seg"].float(), batch["mask"])
    loss = seg
    kp = torch.zeros((), device=seg.device)
    if "heatmaps" in outputs and kp_weight > 0:
        t = batch["heatmaps"]
        bce = F.binary_cross_entropy_with_logits(outputs["heatmaps"].float(), t, reduction="none")
        # minus the targets' own entropy: the binary KL divergence, 0 for a perfect prediction
        # (same gradients as the BCE)
        ent = -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))
        bce = (bce - ent).mean(dim=(2, 3))  # (B, 17)
        w = batch["kp_weight"]
        kp = (bce * w).sum() / w.sum().clamp_min(1.0)
        loss = loss + kp_weight * kp
    return loss, {"loss_seg": float(seg.detach()), "loss_kp": float(kp.detach())}


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------


def _poly_lr(config: TrainConfig, step: int) -> float:
    return config.lr * (1.0 - step / config.steps) ** config.power


def _distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def _rng_state(device) -> dict:
    import torch

    st = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, device) -> None:
    import torch

    torch.set_rng_state(st["torch"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def train(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> dict:
    """Train one model; write ``OUT/checkpoint.pt`` and ``OUT/log.jsonl``.

    Parameters
    ----------
    config : TrainConfig
        The run.
    resume : bool
        Continue from ``OUT/checkpoint.pt`` when it exists (its configuration must agree with
        ``config`` on every field that shapes the result); start afresh when it does not.
    stop_after : int, optional
        Stop (with a checkpoint) after this many steps of this invocation: a planned
        interruption, e.g. for a time-limited job that is resumed later.

    Returns
    -------
    dict
        ``step`` (reached), ``steps``, ``loss`` (mean of the last logged window),
        ``images_per_s``, ``checkpoint`` (path), ``done`` (bool).

    Examples
    --------
    >>> cfg = TrainConfig(out="/tmp/run", model="seg_only", width=0.0625, steps=4,
    ...                   batch_size=2, crop_size=32, synthetic=50, synthetic_size=(64, 64))
    >>> train(cfg)["step"]  # doctest: +SKIP
    4
    """
    import torch

    threads = torch.get_num_threads()
    try:
        return _train(config, resume=resume, stop_after=stop_after)
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, *, resume: bool, stop_after: int | None) -> dict:
    import torch
    import torch.distributed as dist

    from .data import StepBatchSampler, make_loader
    from .models import build_model

    config.validate()
    if stop_after is not None:
        stop_after = check_positive_int(stop_after, "stop_after")
    rank, world, local_rank = _distributed()
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: expected a CUDA device for 'cuda', got none available")
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    is_main = rank == 0

    ckpt_path = os.path.join(config.out, "checkpoint.pt")
    log_path = os.path.join(config.out, "log.jsonl")
    torch.manual_seed(config.seed)
    mcfg = config.model_config()
    net = build_model(mcfg["kind"], **{k: v for k, v in mcfg.items() if k != "kind"}).to(device)
    if use_cuda:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    start = 0
    state = None
    if resume and os.path.exists(ckpt_path):
        state = load_checkpoint(ckpt_path)
        saved = state["config"]
        defaults = dataclasses.asdict(TrainConfig())
        diff = [k for k in _RESUME_FIXED
                if json.dumps(_plain(saved.get(k, defaults[k]))) != json.dumps(_plain(getattr(config, k)))]
        if diff:
            raise ValueError(
                f"resume: the checkpoint {ckpt_path} was trained with other settings: "
                + ", ".join(f"{k}={saved.get(k)!r} (now {getattr(config, k)!r})" for k in diff))
        if state.get("world_size", 1) != world:
            raise ValueError(f"resume: expected {state.get('world_size', 1)} processes (as the checkpoint), got {world}")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
        _set_rng_state(state["rng"][rank], device)
    else:
        # distinct dropout streams per process, identical initial weights
        torch.manual_seed(config.seed * 7919 + 1 + rank)
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if use_cuda else None)

    dataset = build_dataset(config)
    sampler = StepBatchSampler(len(dataset), batch_size=config.batch_size, steps=config.steps,
                               start_step=start, seed=config.seed, rank=rank, world_size=world)
    loader = make_loader(dataset, sampler, workers=config.workers, pin_memory=use_cuda)

    def log(record: dict) -> None:
        if is_main:
            os.makedirs(config.out, exist_ok=True)
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def checkpoint(step: int) -> None:
        rng = _rng_state(device)
        if world > 1:
            states: list = [None] * world
            dist.all_gather_object(states, {k: v.cpu() for k, v in rng.items()})
        else:
            states = [rng]
        if is_main:
            save_checkpoint({
                "format": CHECKPOINT_FORMAT,
                "model_config": mcfg,
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "config": {k: _plain(v) for k, v in dataclasses.asdict(config).items()},
                "world_size": world,
                "rng": states,
                "torch_version": str(torch.__version__),
            }, ckpt_path)
            log({"event": "checkpoint", "step": step, "path": ckpt_path})
        if world > 1:
            dist.barrier()

    log({"event": "resume" if start else "start", "step": start, "world_size": world,
         "device": str(device), "config": {k: _plain(v) for k, v in dataclasses.asdict(config).items()},
         "dataset": len(dataset), "parameters": sum(p.numel() for p in net.parameters())})
    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=start, disable=not (is_main and config.progress),
               desc=f"train {config.model}", unit="step", dynamic_ncols=True)
    net.train()
    step = start
    t0 = time.perf_counter()
    window: list[tuple[float, float, float]] = []
    window_images, window_t = 0, time.perf_counter()
    last = {"loss": float("nan"), "images_per_s": float("nan")}
    done_this_run = 0
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if use_cuda
                else torch.autocast("cpu", enabled=False))
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        images = batch["image"]
        if use_cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        lr = _poly_lr(config, step)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast:
            out = model(images)
        loss, parts = compute_loss(out, batch, kp_weight=config.kp_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        done_this_run += 1
        window.append((float(loss.detach()), parts["loss_seg"], parts["loss_kp"]))
        window_images += images.shape[0] * world
        bar.update(1)
        if step % config.log_every == 0 or step == config.steps:
            vals = torch.tensor(window, dtype=torch.float64).mean(dim=0)
            if world > 1:
                vals = vals.to(device)
                dist.all_reduce(vals)
                vals = (vals / world).cpu()
            now = time.perf_counter()
            ips = window_images / max(now - window_t, 1e-9)
            last = {"loss": float(vals[0]), "images_per_s": ips}
            log({"step": step, "lr": lr, "loss": float(vals[0]), "loss_seg": float(vals[1]),
                 "loss_kp": float(vals[2]), "images_per_s": ips, "elapsed_s": now - t0})
            bar.set_postfix(loss=f"{float(vals[0]):.4f}", lr=f"{lr:.2e}")
            window, window_images, window_t = [], 0, now
        stop = stop_after is not None and done_this_run >= stop_after
        if step % config.ckpt_every == 0 or step == config.steps or stop:
            checkpoint(step)
        if stop:
            break
    bar.close()
    if start >= config.steps and is_main:
        log({"event": "done", "step": step, "note": "checkpoint already complete"})
    elif step == config.steps:
        log({"event": "done", "step": step, "elapsed_s": time.perf_counter() - t0})
    if world > 1:
        dist.barrier()
    return {"step": step, "steps": config.steps, "done": step >= config.steps,
            "checkpoint": ckpt_path, **last}


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v
