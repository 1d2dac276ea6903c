#!/usr/bin/env python3
"""Reference values for the gpu room's golden tests, from OpenCV (an independent
implementation). Run: python3 -m venv v && v/bin/pip install opencv-python-headless numpy
&& v/bin/python scripts/golden_opencv.py   (writes tests/golden/*.bin; commit them).

OpenCV's 8-bit paths quantise interpolation weights (remap: 1/32 steps), so the reference
runs on float32 pixels and rounds half up, which is the arithmetic Wayfarer's CPU and wgpu
paths use. Semantics compared: cv2.remap INTER_LINEAR + BORDER_REPLICATE (backward warp),
cv2.resize INTER_AREA (shrinking) and INTER_LINEAR (enlarging), and a flow field resized
with INTER_LINEAR and its vectors scaled by the size ratio."""
import os
import cv2
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "tests", "golden")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
h, w = 29, 37
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
img = np.stack([
    127 + 120 * np.sin(x / 3.1) * np.cos(y / 4.3),
    255 * x / (w - 1),
    rng.integers(0, 256, size=(h, w)),
], axis=-1).clip(0, 255).astype(np.uint8)
flow = np.stack([2.7 * np.sin(y / 5.0) - 1.3, 1.9 * np.cos(x / 6.0) + 0.4], axis=-1).astype(np.float32)
flow[0, 0] = (-40.0, -40.0)  # far outside: border replicate
flow[-1, -1] = (40.0, 30.0)


def round_u8(a):
    return np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)


f = img.astype(np.float32)
warp = round_u8(cv2.remap(f, x + flow[..., 0], y + flow[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE))
area = round_u8(cv2.resize(f, (20, 15), interpolation=cv2.INTER_AREA))
linear = round_u8(cv2.resize(f, (61, 47), interpolation=cv2.INTER_LINEAR))
flow_big = cv2.resize(flow, (61, 47), interpolation=cv2.INTER_LINEAR)
flow_big[..., 0] *= 61 / 37
flow_big[..., 1] *= 47 / 29
for name, arr in [("input_37x29.rgb", img), ("flow_37x29.f32", flow), ("warp_37x29.rgb", warp),
                  ("area_20x15.rgb", area), ("linear_61x47.rgb", linear),
                  ("flow_61x47.f32", flow_big.astype(np.float32))]:
    arr.tofile(os.path.join(out, name))
print("wrote", out)
