#!/usr/bin/env bash
# The browser test (test/browser/) drives Debian's chromium with puppeteer-core; nothing is downloaded
# by npm. Installs chromium, and a font with Chinese glyphs for the console's labels, when missing.
# Needs root (CI runs as root) or sudo.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -eq 0 ]; then
  echo "chromium and a CJK font are present: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
  exit 0
fi
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
/usr/bin/chromium --version
