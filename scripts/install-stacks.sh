#!/usr/bin/env bash
# install-stacks.sh: install the foreign echo-server stacks (Python frameworks,
# Node.js, the C compiler that builds the native baseline c-epoll), the
# browser the report test uses, shellcheck and iproute2 (ip and tc, for
# network = "netns"), from Debian's packages.
#
# Idempotent: when everything is present it only checks and exits 0, without
# touching the network. `apt-get update` runs only when something is missing.
# It exits non-zero only when apt fails to install a package it offers; a
# package apt does not know is reported and skipped (curio, for one, is not
# packaged by Debian at all, so it is not asked for here).
#
# Usage: scripts/install-stacks.sh        (called by `make deps` and .ci/run)
set -euo pipefail

# Python stacks run under Debian's interpreter, /usr/bin/python3, because these
# packages install there and not into a pyenv or venv python first on PATH.
PACKAGES=(
	python3
	python3-uvloop
	python3-gevent
	python3-tornado
	python3-twisted
	python3-trio
	# c-epoll, the native baseline every report measures the models against,
	# is C compiled at first use with cc; gcc only recommends the C library's
	# headers, and --no-install-recommends would leave them out.
	gcc
	libc6-dev
	chromium
	# Not a stack: the Kubernetes recipe's test lints deploy/kubernetes/run.sh with it.
	shellcheck
	iproute2
)

log() { printf 'install-stacks: %s\n' "$*" >&2; }

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	log "this is not a Debian-like system (no dpkg/apt-get); install these yourself: ${PACKAGES[*]} nodejs"
	exit 1
fi

# Node.js is normally on the machine already (NodeSource's build of v20);
# Debian's nodejs is the fallback when no `node` is on PATH at all.
if command -v node >/dev/null 2>&1; then
	log "node $(node --version) found at $(command -v node)"
else
	log "node not found on PATH: will install Debian's nodejs"
	PACKAGES+=(nodejs)
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if installed "$p"; then
		log "ok: $p $(dpkg-query -W -f='${Version}' "$p")"
	else
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	log "all stacks present; nothing to do"
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		log "need root (or sudo) to install: ${missing[*]}"
		exit 1
	fi
fi

log "missing: ${missing[*]}; running apt-get update"
if ! "${SUDO[@]}" apt-get update -q >&2; then
	log "apt-get update failed"
	exit 1
fi

# Ask only for packages apt offers, so one unknown name does not sink the rest.
wanted=()
for p in "${missing[@]}"; do
	cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		log "skipped: $p is not offered by the configured apt sources"
	else
		wanted+=("$p")
	fi
done

if [ ${#wanted[@]} -eq 0 ]; then
	log "nothing installable; the stacks above stay unavailable"
	exit 0
fi

log "installing: ${wanted[*]}"
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${wanted[@]}" >&2; then
	log "apt-get install failed for: ${wanted[*]}"
	exit 1
fi

for p in "${wanted[@]}"; do
	if installed "$p"; then
		log "installed: $p $(dpkg-query -W -f='${Version}' "$p")"
	else
		log "apt reported success but $p is not installed"
		exit 1
	fi
done
log "done"
