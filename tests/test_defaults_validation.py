"""One set of defaults and one set of input rules across the library calls (issue 14)."""

import inspect
import warnings

import numpy as np
import pytest

import p2i_prior as p
from p2i_prior.checks import check_box_layout
from p2i_prior.defaults import DEFAULT_METHOD, DEFAULT_SEGMENT_METHOD


def scene():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, 30:] = 200
    kp = np.zeros((2, 17, 3))
    kp[0, :, :2] = (12, 20)
    kp[0, :4, :2] = (15, 25)
    kp[1, :, :2] = (45, 20)
    kp[1, :4, :2] = (48, 28)
    kp[:, :, 2] = 2
    return img, kp, np.ones((40, 60), np.float32)


def test_one_default_method():
    """One default distance method for the maps, one default label method for the labels (the
    affinity model has no soft map), each read from ``defaults`` by every call and command."""
    from p2i_prior.commands import register
    import argparse

    for f in (p.pose_instance_map, p.instance_distances):
        assert inspect.signature(f).parameters["method"].default == DEFAULT_METHOD == "rag", f.__name__
    assert inspect.signature(p.segment_people).parameters["method"].default == DEFAULT_SEGMENT_METHOD == "affinity"
    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    seg = sub.choices["segment"]
    assert seg.get_default("method") == DEFAULT_SEGMENT_METHOD
    img, kp, score = scene()
    np.testing.assert_array_equal(p.segment_people(img, kp, score),
                                  p.segment_people(img, kp, score, method="affinity"))
    np.testing.assert_array_equal(p.segment_instances(p.pose_instance_map(img, kp), score),
                                  p.segment_instances(p.pose_instance_map(img, kp, method="rag"), score))


CALLS = {
    "segment_people": lambda img, kp, s, m: p.segment_people(img, kp, s, method=m),
    "segment_people affinity": lambda img, kp, s, m: p.segment_people(img, kp, s, method="affinity"),
    "pose_instance_map": lambda img, kp, s, m: p.pose_instance_map(img, kp, method=m),
    "instance_distances": lambda img, kp, s, m: p.instance_distances(img, kp, method=m),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("method", ["rag", "sweep", "geodesic"])
def test_the_same_image_rules_for_every_call_and_method(call, method):
    img, kp, score = scene()
    f = CALLS[call]
    with pytest.raises(ValueError, match=r"image: expected float values in \[0, 1\], got values in \[0, 200\]; "
                                         r"for a 0..255 float image pass image / 255"):
        f(img.astype(np.float32), kp, score, method)
    f(img.astype(np.float32) / 255, kp, score, method)  # floats in [0, 1] are fine
    with pytest.raises(ValueError, match=r"image: expected \(H, W\) or \(H, W, 3\) image, got shape \(3, 40, 60\) "
                                         r"\(60 channels\) \(channels first\? pass image.transpose\(1, 2, 0\)\)"):
        f(img.transpose(2, 0, 1), kp, score, method)
    with pytest.raises(TypeError, match=r"image: expected a numeric array, got the str 'photo.jpg': pass an array; "
                                        r"read it with numpy.asarray\(PIL.Image.open\(path\).convert\('RGB'\)\)"):
        f("photo.jpg", kp, score, method)


def test_boxes_in_corner_layout_are_caught():
    img, kp, score = scene()
    xywh = np.array([[5.0, 10, 20, 25], [38, 10, 20, 25]])
    p.segment_people(img, kp, score, boxes=xywh)
    xyxy = np.array([[5.0, 10, 25, 35], [38, 10, 58, 35]])  # as xywh: 5 and 36 px past the image
    with pytest.raises(ValueError, match=r"boxes: expected COCO \[x, y, w, h\] boxes, got box 0 = \[5.0, 10.0, 25.0, "
                                         r"35.0\], which reaches past the image read as \[x, y, w, h\] but fits inside "
                                         r"it read as \[x1, y1, x2, y2\] \(60x40 image, WxH\); convert with"):
        p.segment_people(img, kp, score, boxes=xyxy)
    # a corner box near the top left is a valid xywh box too: it passes (documented limit)
    check_box_layout(np.array([[5.0, 5, 20, 30]]), 40, 60)
    # past the image but no corner box either: a warning
    with pytest.warns(UserWarning, match=r"boxes: box 1 = \[50.0, 10.0, 30.0, 25.0\] reaches 20 px past the 60x40 "
                                         r"image \(WxH\); expected COCO \[x, y, w, h\] boxes"):
        p.segment_people(img, kp, score, boxes=np.array([[5.0, 10, 20, 25], [50, 10, 30, 25]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_box_layout(np.array([[0.0, 0, 60.5, 40.5]]), 40, 60)  # within the margin


def test_segment_people_names_the_method():
    img, kp, score = scene()
    with pytest.raises(ValueError, match=r"method: expected one of 'rag', 'sweep', 'geodesic', 'affinity', got 'fast'"):
        p.segment_people(img, kp, score, method="fast")
