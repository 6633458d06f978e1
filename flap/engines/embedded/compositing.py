"""Layering: the moving head over a background plate, so the background never smears when the head turns.

The plate is the photo with the person's head region filled from the surrounding background (a soft
push-pull fill at low resolution, once per portrait); it only shows where the head moved away from where it was.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from flap.face import landmark_groups as G


def background_plate(crop: np.ndarray, person: np.ndarray, moving: np.ndarray, work_side: int = 256) -> np.ndarray:
    """The photo with the moving part of the person replaced by plausible background (uint8, same size)."""
    h, w = crop.shape[:2]
    # The person and the faint edge right around it (strands), not faint responses farther out (a curtain's edge
    # next to the hair), which would otherwise be cut out of the background and travel with the head.
    core = (person > 0.3).astype(np.uint8)
    edge = cv2.dilate(core, np.ones((3, 3), np.uint8), iterations=max(1, h // 170)) > 0
    body = ((person > 0.3) | ((person > 0.04) & edge)).astype(np.uint8)
    person_hole = body & (moving > 0.4).astype(np.uint8)
    if not person_hole.any():
        return crop.copy()
    # The fill is drawn from the background alone, beyond a margin around the whole person: neither hair colour
    # nor the body below the head (a dark suit rising into the fill as a blob behind the head) bleeds into it ...
    margin = max(1, h // 256)
    unknown = cv2.dilate(body, np.ones((3, 3), np.uint8), iterations=margin)
    factor = work_side / max(h, w)
    small = cv2.resize(crop, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA)
    # ... and from its broad colours: thin structures beside the head (a flagpole, a star, a frame's edge) would
    # otherwise spread into what a turn uncovers and show there as a soft second copy
    thin = _thin_structure_size(small.shape[:2])
    small_unknown = cv2.resize(unknown, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    small_unknown = cv2.dilate(small_unknown, np.ones((3, 3), np.uint8), iterations=thin // 2 + 1)
    filled = fill_from_surroundings(cv2.medianBlur(small, thin), small_unknown)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    # The fill at low resolution differs a little from the photo just beside the head, and that step would outline
    # the old head wherever a turn uncovers it: the difference measured in a band around the person is carried
    # into the fill, its broad part (a shadow or vignette around the head: the median, which has no thin
    # structures) all the way, its fine part fading within a few pixels of the old outline (carried farther it drew the structures beside the head, such as a
    # flagpole's stub, into the fill as a soft second copy).
    near = cv2.dilate(person_hole, np.ones((3, 3), np.uint8), iterations=max(2, h // 64))
    band = (near > 0) & (cv2.dilate(person_hole, np.ones((3, 3), np.uint8)) == 0)
    reach = cv2.distanceTransform((~band).astype(np.uint8), cv2.DIST_L2, 3)
    fade = np.exp(-reach / max(2.0, h / 96.0))[:, :, None]
    plain = cv2.medianBlur(crop, _thin_structure_size((h, w))).astype(np.float32)  # without the flagpole
    up += _diffuse(plain - up, band, side=work_side) + _diffuse(crop - plain, band, side=work_side) * fade
    known = cv2.dilate(body, np.ones((3, 3), np.uint8), iterations=max(2, h // 64)) == 0
    up = np.clip(up + _grain(crop, known, seed=h * 7919 + w), 0, 255)
    # ... but replaces only the person itself (its soft edge included: the head carries that edge, un-mixed from
    # the fill), so the real background next to the head stays the photo's and is never carried with the head.
    solid = cv2.dilate(person_hole, np.ones((3, 3), np.uint8)).astype(np.float32)
    solid *= np.clip((moving - 0.2) / 0.3, 0.0, 1.0)
    solid = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), 2.0)
    return (crop * (1 - solid[:, :, None]) + up * solid[:, :, None]).astype(np.uint8)


def _thin_structure_size(shape: tuple[int, int]) -> int:
    """Odd median size at the fill's resolution that removes structures thinner than about 1 % of the image."""
    return max(3, (max(shape) // 40) | 1)


def _grain(photo: np.ndarray, known: np.ndarray, seed: int) -> np.ndarray:
    """(H, W, 1) float32 luminance texture with the background's own grain and mottle (a studio backdrop's clouds,
    film grain), so the fill is not a smooth patch in a textured photo: the amplitude spectrum and level of the two
    plainest fully ``known`` tiles of background, with random phases (a seamless tile with no structure of its
    own: no flagpole or star is copied).  Fixed per photo: no shimmer."""
    h, w = known.shape
    luma = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = luma - cv2.GaussianBlur(luma, (0, 0), max(2.0, h / 40.0))
    side = max(16, min(h, w) // 4)
    tiles = []
    for y in range(0, h - side + 1, side // 2):
        for x in range(0, w - side + 1, side // 2):
            if known[y:y + side, x:x + side].mean() > 0.98:
                patch = detail[y:y + side, x:x + side]
                tiles.append((float(np.mean(patch * patch)), patch))
    if not tiles:
        return np.zeros((h, w, 1), np.float32)
    tiles.sort(key=lambda t: t[0])
    level = float(np.sqrt(np.mean([e for e, _ in tiles[:2]])))
    window = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
    power = np.mean([np.abs(np.fft.fft2(p * window)) ** 2 for _, p in tiles[:2]], axis=0)
    phase = np.angle(np.fft.fft2(np.random.default_rng(seed).standard_normal((side, side))))  # Hermitian: real
    tile = np.real(np.fft.ifft2(np.sqrt(power) * np.exp(1j * phase))).astype(np.float32)
    tile *= level / max(float(tile.std()), 1e-6)
    texture = np.tile(tile, (h // side + 1, w // side + 1))[:h, :w]
    return texture[:, :, None]


def _diffuse(values: np.ndarray, known: np.ndarray, side: int) -> np.ndarray:
    """(H, W, C) float32: ``values`` where ``known``, elsewhere the average of the known values around each pixel
    at the scale of its distance to them (a masked image pyramid at about ``side`` pixels, push-pull)."""
    h, w = known.shape
    factor = side / max(h, w)
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    weight = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(values * known[:, :, None], size, interpolation=cv2.INTER_AREA)
    levels = []
    while min(weight.shape) > 4:
        levels.append((colour, weight))
        colour, weight = cv2.pyrDown(colour), cv2.pyrDown(weight)
    fill = colour / np.maximum(weight, 1e-6)[:, :, None]
    for colour, weight in reversed(levels):
        up = cv2.pyrUp(fill, dstsize=(weight.shape[1], weight.shape[0]))
        share = np.clip(weight * 4.0, 0.0, 1.0)[:, :, None]
        fill = colour / np.maximum(weight, 1e-6)[:, :, None] * share + up * (1.0 - share)
    return cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)


def fill_from_surroundings(image: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: the unknown pixels filled from the known ones around them, each with their average at
    the scale of its distance to them: out-of-focus background.  Telea's inpainting along the boundary's normals
    left radial streaks and wedges; patch-based shift-map inpainting continued curtains well but, as often, copied
    an object from elsewhere (a collar, a flag) to hover behind the head.  Soft is what a viewer accepts behind a
    head that the photo never showed."""
    return _diffuse(image.astype(np.float32), unknown == 0, side=max(unknown.shape))


def premultiply(image: np.ndarray, alpha: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """RGBA uint8 with colour multiplied by alpha: one 4-channel warp carries both, and blending is an add.

    With ``background`` (the plate) the colour is un-mixed from it (the matting equation: photo = alpha * F +
    (1 - alpha) * background), so soft hair edges carry the hair's colour and not the old background's, and the
    unmoved head over the plate is the photo again."""
    a = np.clip(alpha, 0.0, 1.0)[:, :, None]
    if background is None:
        colour = image * a
    else:
        colour = np.clip(image.astype(np.float32) - (1.0 - a) * background, 0.0, 255.0 * a)
    return np.dstack([np.round(colour), np.round(a[:, :, 0] * 255.0)]).astype(np.uint8)


def composite_roi(out: np.ndarray, warped_rgba: np.ndarray, plate: np.ndarray, roi: tuple[int, int, int, int],
                  compiled: bool = True) -> None:
    """out[roi] = warped colour + plate * (1 - warped alpha), in place (``warped_rgba`` is premultiplied).
    ``compiled``: one Numba pass when Numba is there (the same bits, about twice as fast), else OpenCV's passes."""
    x0, y0, x1, y1 = roi
    kernel = _kernel() if compiled else None
    if kernel is not None:
        frame = out if out.flags.c_contiguous else np.ascontiguousarray(out)
        kernel(frame, np.ascontiguousarray(warped_rgba[: y1 - y0, : x1 - x0]), np.ascontiguousarray(plate), x0, y0)
        if frame is not out:
            out[y0:y1, x0:x1] = frame[y0:y1, x0:x1]
        return
    rgb = cv2.cvtColor(warped_rgba, cv2.COLOR_RGBA2RGB)
    inverse = cv2.bitwise_not(cv2.extractChannel(warped_rgba, 3))
    background = cv2.multiply(np.ascontiguousarray(plate[y0:y1, x0:x1]), cv2.merge((inverse, inverse, inverse)), scale=1 / 255)
    out[y0:y1, x0:x1] = cv2.add(rgb, background)


@functools.lru_cache(maxsize=1)
def _kernel():
    try:
        from flap.engines.embedded.composite_kernel import composite_premultiplied
    except ImportError:
        return None
    return composite_premultiplied


def still_frame(photo: np.ndarray, premultiplied: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """The unmoved head composited over the plate, equal to the photo wherever the plate is the photo.  Frames
    start from it, so a region that stops moving shows exactly what it showed while moving (no one-frame pops)."""
    h, w = photo.shape[:2]
    out = photo.copy()
    changed = np.any(plate != photo, axis=2)
    if changed.any():
        ys, xs = np.nonzero(changed)
        roi = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        x0, y0, x1, y1 = roi
        composite_roi(out, np.ascontiguousarray(premultiplied[y0:y1, x0:x1]), plate, roi)
        out[~changed] = photo[~changed]
    return out


def refine_matte(person: np.ndarray, image: np.ndarray, radius: int = 4, eps: float = 1e-3) -> np.ndarray:
    """The segmenter's soft mask snapped to the photo's colour edges (a guided filter, the standard matting
    refinement).  Its soft band is some 10 pixels wide at 512 px: the background inside that band (a curtain's
    edge, a window frame) would otherwise count as part of the head and travel with it."""
    refined = cv2.ximgproc.guidedFilter(image, person.astype(np.float32), radius, eps * 255.0 * 255.0)
    return np.clip(refined, 0.0, 1.0)


def fill_alpha(photo: np.ndarray, plate: np.ndarray, alpha: np.ndarray,
               person: tuple[float, float] = (0.02, 0.08)) -> np.ndarray:
    """``alpha`` raised, where the segmenter sees some of the person (``person``: from no raise at its first value
    to the full raise at its second), to the least alpha for which the
    photo is a mix of some colour and the plate (difference matting against a known background): a dark hat's edge
    that the matte puts at 0 to 0.3 over a blue sky cannot be sky, and left there it printed dark specks into the
    plate.  Farther out, where the matte sees no person (a flagpole beside the hat, a curtain beside the temple),
    nothing is raised: that is background, and it stays with the photo (``consistent_plate``)."""
    image, fill = photo.astype(np.float32), plate.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(image > fill, (image - fill) / np.maximum(255.0 - fill, 1e-3), (fill - image) / np.maximum(fill, 1e-3))
    lo, hi = person
    some = np.clip((alpha - lo) / (hi - lo), 0.0, 1.0)  # where the plate is the photo, nothing is needed
    return np.maximum(alpha, some * np.clip(need.max(axis=2), 0.0, 1.0)).astype(np.float32)


def consistent_plate(photo: np.ndarray, plate: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The plate moved, per pixel, to the nearest background that the photo allows under ``alpha`` (the matting
    equation photo = alpha * F + (1 - alpha) * B with F in 0..255): where alpha is 0 that is the photo itself, and
    where alpha is partial a band around it.  The head then carries exactly the person's share of its edge pixels
    (``premultiply`` needs no clipping), and the still head over the plate is the photo without raising alpha.
    Raising alpha to the plate's replaced band instead made a 4-8 px ring of the photo's background (a curtain, a
    flagpole) travel with the head at full alpha on a turn."""
    a = np.clip(alpha, 0.0, 1.0)[:, :, None].astype(np.float32)
    image = photo.astype(np.float32)
    inverse = np.maximum(1.0 - a, 1e-6)
    # (half a level of slack for rounding; where alpha is 1 any background is allowed: a black pixel of the hat
    # gave 0 / 1e-3 = 0 as the bound and kept the hat's black in the plate)
    lo, hi = (image - 255.0 * a - 0.5) / inverse, (image + 0.5) / inverse
    # Along the line from the photo's colour to the plate's, all channels by the same share: clipped channel by
    # channel, the un-mixed colour of faint edge pixels took any hue (a rainbow fringe on Grace Hopper's hat).
    step = plate.astype(np.float32) - image
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(step > 0, (hi - image) / step, np.where(step < 0, (lo - image) / step, np.inf))
    share = np.clip(room.min(axis=2, keepdims=True), 0.0, 1.0)
    return np.round(image + share * step).clip(0, 255).astype(np.uint8)


def anchor_to_head(alpha: np.ndarray, moving: np.ndarray, lo: float = 0.2, hi: float = 0.5) -> np.ndarray:
    """``alpha`` with its partial values dropped where the head barely moves (``moving``, the mesh's rigidity
    image, below ``lo`` .. ``hi``); solid alpha (the body) is kept.  The segmenter's soft response to something
    beside the person (a patterned chair at 0.2-0.4) would otherwise travel a little with the outer rings and shift
    that background by a few grey levels far from the head; dropped, those pixels are the plate's, i.e. the photo's."""
    near = np.clip((moving - lo) / (hi - lo), 0.0, 1.0)
    solid = np.clip((alpha - 0.5) / 0.3, 0.0, 1.0)
    return (alpha * np.maximum(near, solid)).astype(np.float32)


def subject_alpha(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The person mask made solid over the face: segmentation leaves holes at glasses, beards and bright skin,
    through which the plate would show when the head moves."""
    oval = landmarks[list(G.face_oval_loop()), :2].astype(np.float32)
    face = np.zeros(person.shape, np.uint8)
    cv2.fillConvexPoly(face, np.round(cv2.convexHull(oval) * 4).astype(np.int32), 255, cv2.LINE_AA, shift=2)
    return np.maximum(person, face.astype(np.float32) / 255.0)
