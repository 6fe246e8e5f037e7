"""Pose2Seg networks: a DeepLab-LargeFOV backbone with segmentation and keypoint heads.

Three models share one fully convolutional backbone (VGG-16 layout, atrous convolution in the
last block, output stride 8, as in DeepLab-LargeFOV):

``seg_only``
    2-class segmentation (background / the person in the crop): ``{"seg"}``.
``multitask``
    parallel 2-class segmentation and 17 keypoint heatmaps: ``{"seg", "heatmaps"}``.
``cascaded``
    Pose2Seg: the multitask model whose keypoint heatmaps (after the sigmoid) go through a
    1x1 convolution (17 weights + 1 bias) to a one-channel *shape likelihood* that is added
    to the foreground segmentation logit before the softmax: ``{"seg", "heatmaps", "shape"}``.
    It has exactly 18 more parameters than ``multitask``.

Every output is a logit map upsampled (bilinearly) to the input size:

- ``"seg"``: ``(B, 2, H, W)`` logits; ``softmax(dim=1)[:, 1]`` is the person probability.
- ``"heatmaps"``: ``(B, 17, H, W)`` logits; ``sigmoid`` gives the keypoint heatmaps.
- ``"shape"``: ``(B, 1, H, W)`` the shape likelihood added to the foreground logit.

Builders take keyword-only options and work without arguments (``width=1.0`` is the
paper-size network, 20.5 M parameters for ``seg_only``); ``width`` scales every channel count,
so CPU experiments and tests can use a tiny net (``width=0.0625``).  ``backbone="resnet18"``
swaps the trunk for a dilated ResNet-18 layout (also output stride 8; 11.2 M parameters).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from p2i_prior.checks import check_choice, check_positive_float, check_positive_int

__all__ = ["Pose2SegNet", "DeepLabLargeFOV", "DilatedResNet", "seg_only", "multitask", "cascaded",
           "build_model", "MODEL_KINDS", "BACKBONES", "NUM_KEYPOINTS"]

NUM_KEYPOINTS = 17
MODEL_KINDS = ("seg_only", "multitask", "cascaded")

# VGG-16 blocks: (channels, number of 3x3 convolutions).
_VGG16 = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


class DeepLabLargeFOV(nn.Module):
    """The DeepLab-LargeFOV trunk: VGG-16 conv1-conv5 and the atrous fc6/fc7, output stride 8.

    Pools 1-3 have stride 2 (3x3 window, padding 1), pools 4 and 5 stride 1; conv5 uses
    dilation 2 and fc6 is a 3x3 convolution with dilation ``dilation`` (12 in LargeFOV),
    fc7 a 1x1 convolution.  Stages are exposed by name (``conv1`` ... ``conv5``, ``fc``).

    Parameters
    ----------
    width : float
        Multiplier of every channel count (VGG's 64 ... 512 and fc's 1024).
    batch_norm : bool
        Batch normalisation after every convolution (VGG-16-BN); helps training from scratch.
    dilation : int
        fc6's dilation.
    dropout : float
        Dropout probability after fc6 and fc7.
    in_channels : int
        Input channels.

    Examples
    --------
    >>> trunk = DeepLabLargeFOV(width=0.0625)
    >>> trunk(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 64, 8, 8])
    """

    def __init__(self, *, width: float = 1.0, batch_norm: bool = False, dilation: int = 12,
                 dropout: float = 0.5, in_channels: int = 3) -> None:
        super().__init__()
        c_in = in_channels
        for b, (c, n) in enumerate(_VGG16, start=1):
            c = _scaled(c, width)
            layers: list[nn.Module] = []
            for _ in range(n):
                d = 2 if b == 5 else 1
                layers.append(nn.Conv2d(c_in, c, 3, padding=d, dilation=d, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c))
                layers.append(nn.ReLU(inplace=True))
                c_in = c
            stride = 2 if b <= 3 else 1
            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
            self.add_module(f"conv{b}", nn.Sequential(*layers))
        fc = _scaled(1024, width)
        fc_layers: list[nn.Module] = [
            nn.Conv2d(c_in, fc, 3, padding=dilation, dilation=dilation, bias=not batch_norm)]
        if batch_norm:
            fc_layers.append(nn.BatchNorm2d(fc))
        fc_layers += [nn.ReLU(inplace=True), nn.Dropout2d(dropout),
                      nn.Conv2d(fc, fc, 1, bias=not batch_norm)]
        if batch_norm:
            fc_layers.append(nn.BatchNorm2d(fc))
        fc_layers += [nn.ReLU(inplace=True), nn.Dropout2d(dropout)]
        self.fc = nn.Sequential(*fc_layers)
        self.out_channels = fc
        self.output_stride = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in range(1, 6):
            x = getattr(self, f"conv{b}")(x)
        return self.fc(x)


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = None
        if stride != 1 or c_in != c:
            self.down = nn.Sequential(nn.Conv2d(c_in, c, 1, stride=stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)), inplace=True)


class DilatedResNet(nn.Module):
    """A ResNet-18-layout trunk, dilated to output stride 8 (DeepLab-v2 style).

    Stem (7x7 stride-2 convolution, 3x3 stride-2 max-pool), then four stages of two basic
    blocks with 64, 128, 256, 512 channels (times ``width``); stage 2 has stride 2, stages 3
    and 4 keep stride 1 and use dilation 2 and 4 instead.  Batch norm throughout.  Stages are
    exposed by name (``stem``, ``layer1`` ... ``layer4``).

    Parameters
    ----------
    width : float
        Channel multiplier.
    in_channels : int
        Input channels.

    Examples
    --------
    >>> DilatedResNet(width=0.125)(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 64, 8, 8])
    """

    def __init__(self, *, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        c0 = _scaled(64, width)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c0, 7, stride=2, padding=3, bias=False),
                                  nn.BatchNorm2d(c0), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        c_in = c0
        for i, (c, stride, dil) in enumerate(((64, 1, 1), (128, 2, 1), (256, 1, 2), (512, 1, 4)), start=1):
            c = _scaled(c, width)
            self.add_module(f"layer{i}", nn.Sequential(_BasicBlock(c_in, c, stride, dil),
                                                       _BasicBlock(c, c, 1, dil)))
            c_in = c
        self.out_channels = c_in
        self.output_stride = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x


BACKBONES = ("vgg16", "resnet18")


class Pose2SegNet(nn.Module):
    """Backbone plus the heads of one of the three models (see the module docstring).

    Parameters
    ----------
    kind : {"seg_only", "multitask", "cascaded"}
        Which heads.
    width, batch_norm, dilation, dropout : see :class:`DeepLabLargeFOV`.
    backbone : {"vgg16", "resnet18"}
        The trunk: DeepLab-LargeFOV (default) or :class:`DilatedResNet` (which always has
        batch norm and ignores ``batch_norm``, ``dilation`` and ``dropout``).

    Examples
    --------
    >>> net = Pose2SegNet("cascaded", width=0.0625)
    >>> sorted(net(torch.zeros(2, 3, 32, 32)))
    ['heatmaps', 'seg', 'shape']
    """

    def __init__(self, kind: str = "cascaded", *, width: float = 1.0, batch_norm: bool = False,
                 dilation: int = 12, dropout: float = 0.5, backbone: str = "vgg16") -> None:
        super().__init__()
        self.kind = check_choice(kind, "kind", MODEL_KINDS)
        check_choice(backbone, "backbone", BACKBONES)
        width = check_positive_float(width, "width")
        dilation = check_positive_int(dilation, "dilation")
        if not isinstance(dropout, (int, float)) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout: expected a number in [0, 1), got {dropout!r}")
        self.config = {"kind": kind, "width": width, "batch_norm": bool(batch_norm),
                       "dilation": dilation, "dropout": float(dropout), "backbone": backbone}
        if backbone == "vgg16":
            self.backbone: nn.Module = DeepLabLargeFOV(width=width, batch_norm=batch_norm,
                                                       dilation=dilation, dropout=float(dropout))
        else:
            self.backbone = DilatedResNet(width=width)
        c = self.backbone.out_channels
        self.seg_head = nn.Conv2d(c, 2, 1)
        self.kp_head = nn.Conv2d(c, NUM_KEYPOINTS, 1) if kind != "seg_only" else None
        self.shape_head = nn.Conv2d(NUM_KEYPOINTS, 1, 1) if kind == "cascaded" else None
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for head in (self.seg_head, self.kp_head):
            if head is not None:
                nn.init.normal_(head.weight, std=0.01)
                nn.init.zeros_(head.bias)
        if self.kp_head is not None:
            # Heatmaps are mostly zero: start the sigmoid low (focal-loss style prior).
            nn.init.constant_(self.kp_head.bias, -4.0)
        if self.shape_head is not None:
            nn.init.constant_(self.shape_head.weight, 1.0)
            nn.init.constant_(self.shape_head.bias, 0.0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        x : (B, 3, H, W) float tensor
            Normalised images (see :func:`p2i_net.data.normalize`).

        Returns
        -------
        dict of str to tensor
            ``"seg"`` (B, 2, H, W) logits; ``"heatmaps"`` (B, 17, H, W) logits (multitask,
            cascaded); ``"shape"`` (B, 1, H, W) (cascaded).
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x: expected (B, 3, H, W), got {tuple(x.shape)}")
        size = x.shape[-2:]
        feats = self.backbone(x)
        seg = self.seg_head(feats)
        out: dict[str, torch.Tensor] = {}
        if self.kp_head is not None:
            hm = self.kp_head(feats)
            if self.shape_head is not None:
                shape = self.shape_head(torch.sigmoid(hm))
                seg = seg + torch.cat([torch.zeros_like(shape), shape], dim=1)
                out["shape"] = shape
            out["heatmaps"] = hm
        out["seg"] = seg
        return {k: F.interpolate(v, size=size, mode="bilinear", align_corners=False)
                for k, v in out.items()}


def _build(kind: str, **kwargs: Any) -> Pose2SegNet:
    return Pose2SegNet(kind, **kwargs)


def seg_only(*, width: float = 1.0, batch_norm: bool = False, dilation: int = 12,
             dropout: float = 0.5, backbone: str = "vgg16") -> Pose2SegNet:
    """The segmentation-only model (DeepLab-LargeFOV with a 2-class head).

    Parameters
    ----------
    width : float
        Channel multiplier (1.0 is VGG-16 size).
    batch_norm : bool
        Batch normalisation after each convolution.
    dilation : int
        fc6 dilation (12: LargeFOV).
    dropout : float
        Dropout after fc6 and fc7.
    backbone : {"vgg16", "resnet18"}
        DeepLab-LargeFOV (VGG-16) or a dilated ResNet-18 layout (see :class:`Pose2SegNet`).

    Returns
    -------
    Pose2SegNet
        Outputs ``{"seg": (B, 2, H, W) logits}``.

    Examples
    --------
    >>> seg_only(width=0.0625)(torch.zeros(1, 3, 32, 32))["seg"].shape
    torch.Size([1, 2, 32, 32])
    """
    return _build("seg_only", width=width, batch_norm=batch_norm, dilation=dilation,
                  dropout=dropout, backbone=backbone)


def multitask(*, width: float = 1.0, batch_norm: bool = False, dilation: int = 12,
              dropout: float = 0.5, backbone: str = "vgg16") -> Pose2SegNet:
    """Parallel segmentation and 17 keypoint heatmaps on the shared trunk.

    Parameters are those of :func:`seg_only`.

    Returns
    -------
    Pose2SegNet
        Outputs ``{"seg": (B, 2, H, W), "heatmaps": (B, 17, H, W)}`` logits.

    Examples
    --------
    >>> multitask(width=0.0625)(torch.zeros(1, 3, 32, 32))["heatmaps"].shape
    torch.Size([1, 17, 32, 32])
    """
    return _build("multitask", width=width, batch_norm=batch_norm, dilation=dilation,
                  dropout=dropout, backbone=backbone)


def cascaded(*, width: float = 1.0, batch_norm: bool = False, dilation: int = 12,
             dropout: float = 0.5, backbone: str = "vgg16") -> Pose2SegNet:
    """Pose2Seg: segmentation conditioned on the model's own keypoint heatmaps.

    Parameters are those of :func:`seg_only`.

    Returns
    -------
    Pose2SegNet
        Outputs ``{"seg", "heatmaps", "shape"}``; 18 parameters more than :func:`multitask`.

    Examples
    --------
    >>> net = cascaded(width=0.0625)
    >>> net(torch.zeros(1, 3, 32, 32))["shape"].shape
    torch.Size([1, 1, 32, 32])
    """
    return _build("cascaded", width=width, batch_norm=batch_norm, dilation=dilation,
                  dropout=dropout, backbone=backbone)


def build_model(kind: str, **kwargs: Any) -> Pose2SegNet:
    """Build one of :data:`MODEL_KINDS` by name (``kwargs`` as for :func:`seg_only`).

    Examples
    --------
    >>> build_model("multitask", width=0.0625).kind
    'multitask'
    """
    check_choice(kind, "kind", MODEL_KINDS)
    return {"seg_only": seg_only, "multitask": multitask, "cascaded": cascaded}[kind](**kwargs)
