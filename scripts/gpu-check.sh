#!/usr/bin/env bash
# Every GPU check of Wayfarer in one run (<= 8 minutes on a machine with an NVIDIA GPU and a
# warm cargo cache): set-up installs onnxruntime-gpu and the NVIDIA runtime wheels when
# nvidia-smi answers; `wayfarer doctor` must say `cuda: usable`; CUDA vs CPU parity of the
# ONNX backend's tiny models and the tiny RAFT model; the compute golden tests and the GPU
# flow parity on the real wgpu adapter; `cargo bench --bench compute` on it. Output goes to stdout and, when $OUT is
# set, to $OUT/gpu-check.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/gpu-check.txt
exec > >(tee "$log") 2>&1
export RUST_LOG=off
echo "== nvidia-smi"; nvidia-smi -L || echo "nvidia-smi: no GPU answers"
echo "== setup"; ./setup
echo "== doctor"; ./target/release/wayfarer doctor
echo "== CUDA vs CPU parity (ONNX backend, RAFT)"
WAYFARER_GPU_CHECK=1 cargo test --release --test gpu_parity -- --ignored --nocapture
echo "== compute golden tests on the adapter"
WAYFARER_COMPUTE=wgpu cargo test --release --test compute -- --nocapture
echo "== GPU flow against its CPU twin on the adapter"
WAYFARER_COMPUTE=wgpu cargo test --release --test flow_gpu -- --nocapture
echo "== compute benchmark"
cargo bench --bench compute
echo "== done: all GPU checks passed"
