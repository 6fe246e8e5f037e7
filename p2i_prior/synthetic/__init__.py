"""Seeded synthetic multi-person scenes with exact masks, COCO-17 keypoints and person scores.

:func:`make_scene` draws ``n_people`` articulated people (head, neck, torso, upper and lower
arms, hands, thighs, shins and feet, of human proportions and thickness) in random poses on a
textured background.  People overlap and occlude each other in a depth order; each one gets its
own skin tone, hair, clothing colours and clothing pattern.  Everything comes back as a
:class:`Scene`:

* ``image`` (H, W, 3) uint8: the rendered picture;
* ``masks`` (n, H, W) bool: the *visible* part of each person (after occlusion and clipping to
  the image), pairwise disjoint;
* ``keypoints`` (n, 17, 3) float64: ``(x, y, v)`` in the conventions of
  :mod:`p2i_prior.skeleton` (COCO order, continuous pixel coordinates: pixel ``(r, c)`` covers
  ``[c, c+1) x [r, r+1)``).  The keypoints are the joints of the drawn body (shoulders at the top
  corners of the torso, elbows where upper and lower arm meet, wrists at the end of the forearm,
  the face points on the head, ...).  ``v = 2`` when the keypoint's pixel belongs to the
  person's own visible mask, ``v = 1`` when another person in front covers it (the pixel is then
  in that person's mask), ``v = 0`` when it lies outside the image (its true, out-of-image
  coordinates are kept here; :func:`to_coco` writes them as 0 the COCO way);
* ``boxes`` (n, 4) float64: COCO ``[x, y, w, h]`` of each visible mask (pixel extents, as
  ``pycocotools.mask.toBbox`` computes them; zeros for an empty mask);
* ``score`` (H, W) float32: a realistic, imperfect person score in [0, 1] (blurred, slightly
  eroded or dilated, noisy union of the masks, with a few false positives on the background and
  a few weak spots on people), ``score_exact`` (H, W) float32 the exact 0/1 union;
* ``depth`` (n,) int64: the depth rank of each person, 0 = nearest the camera (drawn last);
* ``seed``: the seed that regenerates this scene with :func:`make_scene`.

People are seen from the front, from the side or (less often) from behind; for a person seen
from behind the face keypoints are the projections of where nose, eyes and ears are on the head
(so they still lie inside the head), and left/right follow the person, not the image, as in
COCO.  Each person is placed so that at least ``min_visible`` of their body stays visible when
a placement allowing it is found within a few tries; a person that would still be entirely hidden
is brought to the front.  Every person's pelvis and head are inside the image, and every person
has a non-empty mask unless the image cannot show them all (dozens of people in a tiny image).

Bounds (``ValueError`` outside them): ``16 <= height, width <= 4096``, ``0 <= n_people <= 64``,
``0 <= overlap <= 1``, ``scale = (lo, hi)`` with ``0.1 <= lo <= hi <= 1``,
``0 <= min_visible <= 0.9``, ``0 <= score_noise <= 2``.

Drawing is vectorised numpy (distance-to-segment capsules, tapered boxes and ellipses evaluated
on each part's bounding box); a 640x480 scene with 5 people takes a few tens of milliseconds.

Modules: :mod:`.scene` (the :class:`Scene` container), :mod:`.body` (appearance and pose of a
person), :mod:`.render` (drawing one person), :mod:`.background`, :mod:`.score` (the imperfect
person score), :mod:`.compose` (:func:`make_scene`, :func:`make_scenes`) and
:mod:`.coco_export` (:func:`to_coco`, :func:`write_coco`).
"""

from .coco_export import to_coco, write_coco
from .compose import MAX_PEOPLE, MAX_SIZE, MIN_SIZE, make_scene, make_scenes  # noqa: F401 (the bounds, public as before)
from .scene import Scene

__all__ = ["Scene", "make_scene", "make_scenes", "to_coco", "write_coco"]
