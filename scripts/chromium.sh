#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium (the browser the ui-tests drive; Playwright
# never downloads one). Installs it with apt when missing (needs root, or sudo).
set -euo pipefail
browser=/usr/bin/chromium
if [ -x "$browser" ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "chromium.sh: $browser is missing and this is not root (no sudo)" >&2; exit 1; }
  sudo=sudo
fi
echo "chromium.sh: installing Debian's chromium" >&2
$sudo apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends chromium fonts-liberation >&2
[ -x "$browser" ] || { echo "chromium.sh: apt installed chromium but $browser is missing" >&2; exit 1; }
