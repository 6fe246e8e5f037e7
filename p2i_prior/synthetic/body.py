"""The body model of the synthetic people: appearance and pose.

Body units: standing height 1, image axes x right / y down, origin at the pelvis.
:func:`_sample_appearance` draws a person's skin, hair and clothes; :func:`_sample_body` draws a
pose and build and returns the 17 COCO joints and the drawing primitives (capsules, a tapered
torso box, the head ellipse), each with a depth ``z`` for the drawing order.
"""

from __future__ import annotations

import numpy as np

_SKIN = np.array([(255, 221, 190), (240, 195, 160), (225, 175, 135), (200, 140, 100),
                  (165, 110, 75), (125, 80, 55), (90, 60, 42)], np.float32)
_HAIR = np.array([(25, 20, 18), (55, 38, 28), (100, 68, 42), (165, 125, 80), (215, 190, 135),
                  (150, 148, 145), (130, 55, 28)], np.float32)
_PANTS = np.array([(48, 66, 112), (32, 32, 38), (165, 145, 105), (95, 95, 100), (85, 62, 45),
                   (70, 90, 60), (120, 30, 40)], np.float32)
_SHOES = np.array([(30, 28, 26), (70, 50, 35), (225, 225, 220), (60, 60, 65)], np.float32)

# Unit-sphere points of the face, in the person's frame (X = person's left, Y up, Z forward).
_FACE3D = np.array([
    (0.0, -0.15, 0.98),    # nose
    (0.33, 0.18, 0.92),    # left eye
    (-0.33, 0.18, 0.92),   # right eye
    (0.97, 0.05, -0.10),   # left ear
    (-0.97, 0.05, -0.10),  # right ear
])
_MOUTH3D = np.array([(0.2, -0.5, 0.82), (-0.2, -0.5, 0.82)])


def _dir(phi: float) -> np.ndarray:
    """Unit direction at angle ``phi`` (radians) from straight down, positive towards +x."""
    return np.array([np.sin(phi), np.cos(phi)])


def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> np.ndarray:
    import colorsys

    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))
    return np.array(rgb, np.float32) * 255


def _jitter(rng: np.random.Generator, palette: np.ndarray, amount: float = 10.0) -> np.ndarray:
    c = palette[rng.integers(len(palette))] + rng.normal(0.0, amount, 3)
    return np.clip(c, 0, 255).astype(np.float32)


def _sample_appearance(rng: np.random.Generator) -> dict:
    shirt = _hsv(rng, (0.25, 0.9), (0.35, 0.95))
    if rng.random() < 0.2:  # white, grey or black shirts
        shirt = np.full(3, rng.choice([235.0, 130.0, 35.0]), np.float32) + rng.normal(0, 5, 3).astype(np.float32)
    shirt2 = _hsv(rng, (0.1, 0.9), (0.2, 1.0))
    pants = _jitter(rng, _PANTS, 12) if rng.random() < 0.8 else _hsv(rng, (0.2, 0.8), (0.2, 0.7))
    u = rng.random()
    pattern = "plain" if u < 0.4 else "stripes" if u < 0.7 else "checks" if u < 0.85 else "speckle"
    return {
        "skin": _jitter(rng, _SKIN, 8),
        "hair": _jitter(rng, _HAIR, 8),
        "shirt": np.clip(shirt, 0, 255),
        "shirt2": shirt2,
        "pants": pants,
        "shoe": _jitter(rng, _SHOES, 8),
        "pattern": pattern,
        "period": rng.uniform(0.025, 0.06),  # stripe period, in body units
        "phase": rng.uniform(0, 2 * np.pi),
        "long_sleeves": rng.random() < 0.45,
        "shorts": rng.random() < 0.25,
        "long_hair": rng.random() < 0.3,
    }


def _sample_body(rng: np.random.Generator, long_hair: bool) -> dict:
    """Random pose and build; returns joints and drawing primitives in body units."""
    u = rng.random()
    if u < 0.55:
        yaw = rng.uniform(-35, 35)
    elif u < 0.85:
        yaw = rng.choice([-1.0, 1.0]) * rng.uniform(35, 100)
    else:
        yaw = 180 + rng.uniform(-40, 40)
    yaw = np.deg2rad(yaw)
    c, s = np.cos(yaw), np.sin(yaw)
    face_x = float(np.sign(s)) if abs(s) > 0.3 else 0.0  # image direction the person faces
    side_view = abs(c) < 0.4

    lean = np.deg2rad(np.clip(rng.normal(0, 5), -15, 15))
    if rng.random() < 0.08:
        lean = np.deg2rad(rng.choice([-1.0, 1.0]) * rng.uniform(15, 35))
    tilt = np.deg2rad(np.clip(rng.normal(0, 7), -20, 20))
    build = rng.uniform(0.88, 1.15)
    limb = rng.uniform(0.95, 1.05)

    up = np.array([np.sin(lean), -np.cos(lean)])
    right = np.array([np.cos(lean), np.sin(lean)])
    pelvis = np.zeros(2)
    L_torso = 0.29 * rng.uniform(0.95, 1.05)
    neck = pelvis + L_torso * up
    head_up = np.array([np.sin(lean + tilt), -np.cos(lean + tilt)])
    head_right = np.array([np.cos(lean + tilt), np.sin(lean + tilt)])
    head_c = neck + 0.092 * head_up
    hsz = rng.uniform(0.95, 1.07)
    rx, ry = 0.05 * hsz, 0.063 * hsz

    sw, hw = 0.115 * build, 0.085 * build
    kp = np.zeros((17, 2))
    # face: orthographic projection of the unit-sphere points, shrunk to stay inside the head
    X, Y, Z = _FACE3D.T
    xp, zp = X * c + Z * s, -X * s + Z * c
    kp[0:5] = head_c + 0.9 * (xp[:, None] * rx * head_right + Y[:, None] * ry * head_up)
    face_toward = zp[1:3].min() > 0.25  # both eyes towards the camera: draw eyes and mouth
    Xm, Ym, Zm = _MOUTH3D.T
    mouth = head_c + 0.9 * ((Xm * c + Zm * s)[:, None] * rx * head_right + Ym[:, None] * ry * head_up)

    parts: list[dict] = []
    # torso (tapered box from a bit below the pelvis to the neck) and its rounded edges
    wt = 0.125 * build * np.hypot(c, 0.55 * s)
    wb = 0.11 * build * np.hypot(c, 0.6 * s)
    base = pelvis - 0.03 * up
    parts.append(dict(kind="torso", z=1.0, p0=base, up=up, right=right, length=L_torso + 0.03,
                      r0=wb, r1=wt, mat=("pants", "shirt"), split=0.2))
    for X_side, i_sh, i_hip in ((1.0, 5, 11), (-1.0, 6, 12)):  # person's left (X > 0), right
        kp[i_sh] = neck - 0.012 * up + sw * X_side * c * right
        kp[i_hip] = pelvis + hw * X_side * c * right
    parts.append(dict(kind="cap", z=1.1, a=kp[5], b=kp[6], ra=0.036 * build, rb=0.036 * build,
                      mat=("shirt", "shirt"), split=1.0))
    parts.append(dict(kind="cap", z=0.9, a=kp[11], b=kp[12], ra=0.055 * build, rb=0.055 * build,
                      mat=("pants", "pants"), split=1.0))
    parts.append(dict(kind="cap", z=2.0, a=neck - 0.02 * up, b=head_c, ra=0.03 * build,
                      rb=0.028 * build, mat=("skin", "skin"), split=1.0))
    parts.append(dict(kind="head", z=3.0, c=head_c, up=head_up, right=head_right, rx=rx, ry=ry,
                      cos=c, sin=s))
    if face_toward:
        for e in (kp[1], kp[2]):
            parts.append(dict(kind="cap", z=3.1, a=e, b=e, ra=0.0085, rb=0.0085,
                              mat=("eye", "eye"), split=1.0, nomask=True))
        parts.append(dict(kind="cap", z=3.1, a=mouth[0], b=mouth[1], ra=0.006, rb=0.006,
                          mat=("mouth", "mouth"), split=1.0, nomask=True))

    arm_swing = rng.uniform(-1, 1)
    for X_side, (i_sh, i_el, i_wr) in ((1.0, (5, 7, 9)), (-1.0, (6, 8, 10))):
        side = X_side * c
        far = X_side * s > 0.35  # this side of the body faces away from the camera
        out = float(np.sign(side)) if abs(c) >= 0.3 else float(rng.choice([-1.0, 1.0]))
        if side_view:
            a = np.rad2deg(X_side * arm_swing) * 0.6 + rng.uniform(-15, 15)
        else:
            v = rng.random()
            a = rng.uniform(4, 35) if v < 0.65 else rng.uniform(35, 165) if v < 0.85 else rng.uniform(-20, 4)
        phi_u = lean + out * np.deg2rad(a)
        f1 = 1.0 if rng.random() < 0.7 else rng.uniform(0.6, 1.0)
        kp[i_el] = kp[i_sh] + 0.165 * limb * f1 * _dir(phi_u)
        e = rng.uniform(0, 25) if rng.random() < 0.5 else rng.uniform(25, 135)
        k = -out if rng.random() < 0.7 else out
        phi_f = phi_u + k * np.deg2rad(e)
        f2 = 1.0 if rng.random() < 0.7 else rng.uniform(0.6, 1.0)
        kp[i_wr] = kp[i_el] + 0.145 * limb * f2 * _dir(phi_f)
        hand_end = kp[i_wr] + 0.06 * _dir(phi_f + np.deg2rad(rng.uniform(-25, 25)))
        z = -1.0 if far else 4.0
        parts.append(dict(kind="cap", z=z, a=kp[i_sh], b=kp[i_el], ra=0.031 * build,
                          rb=0.025 * build, mat=("shirt", "upper_arm_low"), split=0.55))
        parts.append(dict(kind="cap", z=z + 0.01, a=kp[i_el], b=kp[i_wr], ra=0.024 * build,
                          rb=0.019 * build, mat=("forearm", "forearm"), split=1.0))
        parts.append(dict(kind="cap", z=z + 0.02, a=kp[i_wr], b=hand_end, ra=0.019, rb=0.017,
                          mat=("skin", "skin"), split=1.0))

    stride = rng.uniform(0, 30)
    for n_leg, (X_side, (i_hip, i_kn, i_an)) in enumerate(((1.0, (11, 13, 15)), (-1.0, (12, 14, 16)))):
        side = X_side * c
        far = X_side * s > 0.35
        out = float(np.sign(side)) if abs(c) >= 0.3 else (1.0 if n_leg == 0 else -1.0)
        if side_view:
            forward = n_leg == 0
            phi_t = np.deg2rad(face_x * stride if forward else -face_x * stride * rng.uniform(0.5, 1.0))
            kappa = rng.uniform(0, 20) if forward else rng.uniform(0, 50)
            phi_s = phi_t - face_x * np.deg2rad(kappa)
        else:
            g = rng.uniform(-4, 14) if rng.random() < 0.85 else rng.uniform(14, 35)
            phi_t = out * np.deg2rad(g)
            kappa = rng.uniform(0, 12) if rng.random() < 0.75 else rng.uniform(12, 60)
            k = -out if rng.random() < 0.6 else out
            phi_s = phi_t + k * np.deg2rad(kappa)
        f = 1.0 if rng.random() < 0.85 else rng.uniform(0.75, 1.0)
        kp[i_kn] = kp[i_hip] + 0.245 * limb * f * _dir(phi_t)
        kp[i_an] = kp[i_kn] + 0.245 * limb * _dir(phi_s)
        foot_dir = np.array([face_x * 0.1 * abs(s) + out * 0.015 * abs(c), 0.03])
        toe = kp[i_an] + foot_dir
        z = 0.0 if not far else -0.5
        parts.append(dict(kind="cap", z=z, a=kp[i_hip], b=kp[i_kn], ra=0.052 * build,
                          rb=0.038 * build, mat=("pants", "thigh_low"), split=0.6))
        parts.append(dict(kind="cap", z=z + 0.01, a=kp[i_kn], b=kp[i_an], ra=0.037 * build,
                          rb=0.027 * build, mat=("shin", "shin"), split=1.0))
        parts.append(dict(kind="cap", z=z + 0.02, a=kp[i_an] - 0.01 * foot_dir, b=toe, ra=0.024,
                          rb=0.022, mat=("shoe", "shoe"), split=1.0))

    if long_hair:  # hangs behind the neck: behind the torso, or over it when seen from behind
        parts.append(dict(kind="cap", z=1.05 if c < 0 else 0.95, a=head_c, b=head_c - 0.14 * head_up,
                          ra=0.052 * hsz, rb=0.048 * hsz, mat=("hair", "hair"), split=1.0))
    return {"kp": kp, "parts": parts}
