#!/usr/bin/env bash
# Installs the system programs the tests run, from Debian's packages, when they are missing:
#   chromium      the simulator's HTML report is opened in headless Chromium
#   prometheus    a real Prometheus scrapes the example service and evaluates the dashboard
#   redis-server  fleet mode's evidence store
# Idempotent: with everything present it does nothing. It needs root for apt-get; without root it
# says what is missing and how to install it, and the tests that need a missing program skip with
# a notice (under CI=true they fail instead). `pnpm test` and .ci/run both call it.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${need[*]} (apt-get)"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    exit 0
  fi
  echo "system-deps: apt-get could not install ${need[*]}" >&2
else
  echo "system-deps: missing ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
fi
# Tests that need a missing program skip with a notice, or fail under CI=true.
[ "${CI:-}" = "true" ] && exit 1
exit 0
