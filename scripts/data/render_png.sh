#!/usr/bin/env bash
# PNG copies of the accuracy-study charts (the SVGs are written by `gridgames eval --svg-dir`).
#
#   scripts/data/render_png.sh [DIR]     # DIR defaults to docs/eval
#
# Uses rsvg-convert (Debian/Ubuntu package librsvg2-bin, installed with apt-get if missing).
set -euo pipefail
DIR="${1:-docs/eval}"
if ! command -v rsvg-convert >/dev/null; then
  apt-get install -y -q librsvg2-bin >&2
fi
for svg in "$DIR"/*.svg; do
  png="${svg%.svg}.png"
  rsvg-convert --background-color=white -o "$png.tmp" "$svg"
  mv "$png.tmp" "$png"
  echo "wrote $png"
done
