#!/bin/sh
# Installs what the tests need: Debian packages (ffmpeg, espeak-ng for test speech, chromium for the browser test)
# and the pinned Python requirements into the active environment.
set -e
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ffmpeg espeak-ng chromium >/dev/null
fi
python -m pip install -q --upgrade pip
python -m pip install -q -r requirements.txt -r requirements-test.txt
