#!/usr/bin/env python3
"""Writes the two test models of the ONNX backend's contracts (opset 17, IR 9), with known
formulas so tests can check layouts, value ranges and the frame bookkeeping without weights.
They are not generators.

models/tiny_interpolator.onnx (interpolator contract, RIFE-style):
    frame0, frame1: float [1, 3, H, W] in [0, 1]; timestep: float [1, 1, 1, 1]
    -> frame: float [1, 3, H, W] = frame0 * (1 - t) + frame1 * t
models/tiny_video.onnx (video contract):
    guide: float [T, 3, H, W] in [0, 1]; mask: float [T, 1, H, W] (1 = generate)
    -> frames: float [T, 3, H, W] = guide * (1 - mask) + 0.25 * mask

Run: pip install onnx && python3 scripts/make_tiny_generators.py  (commit the output)."""
import os
import onnx
from onnx import TensorProto, helper

out_dir = os.path.join(os.path.dirname(__file__), "..", "models")


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path = os.path.join(out_dir, name)
    onnx.save(model, path)
    print("wrote", path)


f0 = helper.make_tensor_value_info("frame0", TensorProto.FLOAT, [1, 3, "H", "W"])
f1 = helper.make_tensor_value_info("frame1", TensorProto.FLOAT, [1, 3, "H", "W"])
ts = helper.make_tensor_value_info("timestep", TensorProto.FLOAT, [1, 1, 1, 1])
fo = helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 3, "H", "W"])
one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
nodes = [
    helper.make_node("Sub", ["one", "timestep"], ["inv"]),
    helper.make_node("Mul", ["frame0", "inv"], ["a"]),
    helper.make_node("Mul", ["frame1", "timestep"], ["b"]),
    helper.make_node("Add", ["a", "b"], ["frame"]),
]
save(helper.make_graph(nodes, "tiny_interpolator", [f0, f1, ts], [fo], [one]),
     "tiny_interpolator.onnx")

g = helper.make_tensor_value_info("guide", TensorProto.FLOAT, ["T", 3, "H", "W"])
m = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["T", 1, "H", "W"])
o = helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["T", 3, "H", "W"])
quarter = helper.make_tensor("quarter", TensorProto.FLOAT, [], [0.25])
nodes = [
    helper.make_node("Sub", ["one", "mask"], ["keep"]),
    helper.make_node("Mul", ["guide", "keep"], ["kept"]),
    helper.make_node("Mul", ["mask", "quarter"], ["fill"]),
    helper.make_node("Add", ["kept", "fill"], ["frames"]),
]
save(helper.make_graph(nodes, "tiny_video", [g, m], [o], [one, quarter]), "tiny_video.onnx")
