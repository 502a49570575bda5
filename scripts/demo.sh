#!/bin/sh
# Bake examples/minimal.yml, then boot it once the way EC2 would and wait until its
# boot agent says it is ready.
set -eu
cd "$(dirname "$0")/.."
build_dir=$(.venv/bin/shipyard build examples/minimal.yml -o builds)
echo "booting $build_dir under qemu ..." >&2
.venv/bin/shipyard run "$build_dir" --wait-ready --timeout 600
echo "demo: the image built and came up; build kept in $build_dir" >&2
