#!/bin/sh
# Installs the Debian packages ringfence needs to build, test and run, and
# only those missing, so that `make run` and `make test` work on a fresh
# Debian 12 machine.  Needs root (or sudo) only when something is missing.
set -eu
PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
libseccomp-dev libsodium-dev libjson-c-dev libinih-dev libcap-dev libpcre2-dev
libyaml-dev libyara-dev libcmocka-dev libsystemd-dev libcurl4-openssl-dev util-linux iproute2 procps jq coreutils
python3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
