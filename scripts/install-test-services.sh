#!/usr/bin/env bash
# Installs (from Debian's packages) the real servers some tests start on loopback themselves: OpenSSH's sshd
# (SFTP destinations) and Chromium (console browser tests, driven by playwright-core). Idempotent; needs root,
# as on the project's machines and CI. Tests that need one of them skip with a clear message when it is absent.
set -euo pipefail
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server openssh-sftp-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
