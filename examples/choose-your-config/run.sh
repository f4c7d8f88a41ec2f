#!/usr/bin/env bash
# The README's "Choose your config", run as written (from the repository root or here).
set -euo pipefail
cd "$(dirname "$0")"
sim=../../packages/sim/dist/cli.js
out=$(mktemp -d)
node "$sim" run --config current.json --scenario brownout --seeds 1..10
node "$sim" tune --space space.json --cells train --max-rps 200 --seeds 1..2 --out "$out/tuned.json"
node "$sim" quality --config current.json --config "$out/tuned.json" --cells test --max-rps 200 --seeds 101..103
