#!/usr/bin/env bash
# Installs Nightshift into ./.venv, with the system tools it needs (git, redis-server, bubblewrap, util-linux,
# chromium; iproute2 and curl for the network tests).
# Safe to run again. Usage: ./install.sh
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_system=()
command -v git >/dev/null || need_system+=(git)
command -v redis-server >/dev/null || need_system+=(redis-server)
command -v bwrap >/dev/null || need_system+=(bubblewrap)
command -v nsenter >/dev/null || need_system+=(util-linux)  # Chromium enters a sandbox's network namespace with it
command -v ip >/dev/null || need_system+=(iproute2)  # tests: `ip netns` holds the private and link-local targets
command -v curl >/dev/null || need_system+=(curl)  # tests: what a sandboxed command dials the proxy with
command -v chromium >/dev/null || need_system+=(chromium)  # Playwright drives it: web UI tests, the screenshot tool
if [ ${#need_system[@]} -gt 0 ]; then
  say "installing system packages: ${need_system[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q "${need_system[@]}" >/dev/null; then
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q "${need_system[@]}" >/dev/null
  fi
fi

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
[ -n "$python" ] || { echo "Nightshift needs Python 3.11 or newer" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $python"
  "$python" -m venv .venv
fi
say "installing nightshift and its test tools into .venv"
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' >.venv/pip.log 2>&1; then
  cat .venv/pip.log >&2; echo "pip install failed (log above)" >&2; exit 1
fi
.venv/bin/nightshift --help >/dev/null
say "done: .venv/bin/nightshift is ready (redis-server $(redis-server --version | awk '{print $3}'), $(git --version))"
