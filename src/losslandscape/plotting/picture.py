"""The filled contour map as a PNG picture, for the animated race (plotly.js removes a
contour trace while it plays frames, but keeps a layout image)."""

from __future__ import annotations

import base64
import io

import numpy as np
import PIL.Image
from scipy.interpolate import RegularGridInterpolator

from .surface import Surface

# BACKDROP_SCALE's two ends as RGB, so the picture has the contour maps' greys.
_BACKDROP_RGB = np.array([[0xFB] * 3, [0x6E] * 3], float)
_LINE_RGB = np.array([0x99] * 3, np.uint8)  # the contour lines' grey


def contour_picture(surface: Surface, start: float, size: float, end: float) -> str:
    """The filled contour map as a PNG data URI: bands of ``size`` from ``start`` to ``end``
    in the backdrop greys, a grey line where the band changes, north up."""
    width, height = 720, 420
    a = np.linspace(surface.w_a[0], surface.w_a[-1], width)
    b = np.linspace(surface.w_b[-1], surface.w_b[0], height)  # the first row is the top
    interpolate = RegularGridInterpolator((surface.w_b, surface.w_a), surface.z)
    bb, aa = np.meshgrid(b, a, indexing="ij")
    z = interpolate(np.stack([bb, aa], axis=-1))
    band = np.clip(np.floor((z - start) / size), 0, round((end - start) / size) - 1)
    shade = (band + 0.5) * size / (end - start)
    rgb = (_BACKDROP_RGB[0] + shade[..., None] * (_BACKDROP_RGB[1] - _BACKDROP_RGB[0])).round()
    rgb = rgb.astype(np.uint8)
    edge = np.zeros(band.shape, bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:] |= band[1:] != band[:-1]
    rgb[edge] = _LINE_RGB
    return "data:image/png;base64," + base64.b64encode(_png(rgb)).decode()


def _png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height, width, 3)."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(rgb).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
