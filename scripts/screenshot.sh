#!/usr/bin/env bash
# Takes a screenshot of the real studio window under Xvfb, on the demo project, with
# merging on so the plan view shows a merged call:
#   scripts/screenshot.sh [OUT.png]     (default: studio.png)
# Needs xvfb (installed by ./setup). The README shows docs/studio.png, made by this script.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-studio.png}")
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp examples/demo/*.png "$tmp/"
python3 - "$tmp/demo.json" <<'PY'
import json, sys
p = json.load(open("examples/demo/demo.json"))
p["keyframes"].append({"image": "sintel_0016.png", "frame": 105})
p["segments"].append(dict(p["segments"][1]))
p["merge"] = {"policy": "consolidate"}
p["mask"] = {"transition_frames": 2}
json.dump(p, open(sys.argv[1], "w"), indent=2)
PY
WAYFARER_SCREENSHOT="$out" RUST_LOG=off XDG_RUNTIME_DIR="$tmp" \
  xvfb-run -a -s "-screen 0 1280x800x24" ./target/release/wayfarer "$tmp/demo.json"
echo "screenshot: $out"
