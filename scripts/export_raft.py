#!/usr/bin/env python3
"""Exports torchvision's RAFT (small or large) to ONNX for Wayfarer's `raft` flow
estimator. Needs network access once for the weights:

    python3 -m venv v && v/bin/pip install torch torchvision onnx
    v/bin/python scripts/export_raft.py --model small --iterations 12
    # -> models/raft_small.onnx, described by models/raft_small.toml

Inputs image1, image2: float [1, 3, H, W] in [-1, 1], H and W multiples of 8 (dynamic);
output flow: float [1, 2, H, W] in pixels, the last refinement. Opset 17 (GridSample
needs >= 16)."""
import argparse
import os
import torch
from torchvision.models.optical_flow import (Raft_Large_Weights, Raft_Small_Weights,
                                             raft_large, raft_small)

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["small", "large"], default="small")
p.add_argument("--iterations", type=int, default=12)
p.add_argument("--height", type=int, default=360)
p.add_argument("--width", type=int, default=640)
args = p.parse_args()
if args.model == "small":
    net = raft_small(weights=Raft_Small_Weights.DEFAULT)
else:
    net = raft_large(weights=Raft_Large_Weights.DEFAULT)
net.eval()


class LastFlow(torch.nn.Module):
    def __init__(self, raft, iterations):
        super().__init__()
        self.raft, self.iterations = raft, iterations

    def forward(self, image1, image2):
        return self.raft(image1, image2, num_flow_updates=self.iterations)[-1]


out = os.path.join(os.path.dirname(__file__), "..", "models", f"raft_{args.model}.onnx")
dummy = torch.zeros(1, 3, args.height, args.width)
torch.onnx.export(LastFlow(net, args.iterations), (dummy, dummy), out, opset_version=17,
                  input_names=["image1", "image2"], output_names=["flow"],
                  dynamic_axes={"image1": {2: "H", 3: "W"}, "image2": {2: "H", 3: "W"},
                                "flow": {2: "H", 3: "W"}})
print("wrote", out)
