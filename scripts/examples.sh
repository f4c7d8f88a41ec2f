#!/usr/bin/env bash
# Every example program, run from its build (part of `pnpm test`; `pnpm examples` alone).
# Each must exit 0; their output is not checked here (tests check what they print).
set -euo pipefail
cd "$(dirname "$0")/.."
node examples/core-timeline/dist/main.js > /dev/null
node examples/custom-detector/dist/main.js > /dev/null
node examples/http-client/dist/main.js > /dev/null
node examples/http-service/dist/main.js > /dev/null
node examples/pino-logging/dist/main.js > /dev/null
node packages/sim/dist/cli.js > /dev/null
node scripts/readme-samples.mjs
