#!/usr/bin/env python3
"""Writes models/tiny_raft.onnx: a model with RAFT's signature (image1, image2: float
[1, 3, H, W] -> flow: float [1, 2, H, W], opset 17, IR 9) and a known formula,
flow = (image2 - image1)[:, 0:2] * 0.5, so tests can check the ONNX Runtime path (value
range, padding, layout) without weights. Run: pip install onnx && python3
scripts/make_tiny_raft.py  (commit the output)."""
import os
import onnx
from onnx import TensorProto, helper

h, w = "H", "W"
img1 = helper.make_tensor_value_info("image1", TensorProto.FLOAT, [1, 3, h, w])
img2 = helper.make_tensor_value_info("image2", TensorProto.FLOAT, [1, 3, h, w])
flow = helper.make_tensor_value_info("flow", TensorProto.FLOAT, [1, 2, h, w])
inits = [
    helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
    helper.make_tensor("ends", TensorProto.INT64, [1], [2]),
    helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
    helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
]
nodes = [
    helper.make_node("Sub", ["image2", "image1"], ["diff"]),
    helper.make_node("Slice", ["diff", "starts", "ends", "axes"], ["two"]),
    helper.make_node("Mul", ["two", "half"], ["flow"]),
]
graph = helper.make_graph(nodes, "tiny_raft", [img1, img2], [flow], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 9
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(__file__), "..", "models", "tiny_raft.onnx")
onnx.save(model, out)
print("wrote", out)
