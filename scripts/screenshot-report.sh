#!/usr/bin/env bash
# screenshot-report: render a run report (RUN_DIR/report/index.html, from `ijepa report`) with
# headless Chromium and save a PNG screenshot, to check that the page renders offline.
# Usage: bash scripts/screenshot-report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
# Needs Debian's chromium (apt-get install -y chromium); exits 3 when it is missing.
# Every network-touching feature is off (the report must not need the network) and a throwaway
# profile is used, so the run leaves nothing behind.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2; exit 2; }
html=$(realpath "$1")
out=$(realpath -m "$2")
size=${3:-1200x1600}
[ -f "$html" ] || { echo "screenshot-report: $html does not exist" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "screenshot-report: chromium not found (apt-get install -y chromium)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --window-size="${size/x/,}" \
  --screenshot="$out" "file://$html" >/dev/null 2>&1
[ -s "$out" ] || { echo "screenshot-report: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "$out"
