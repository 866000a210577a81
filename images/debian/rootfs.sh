#!/usr/bin/env bash
# Recipe for the base image bazaar/debian:bookworm: a minbase Debian rootfs
# tarball made by mmdebstrap, which build.sh turns into an image with `docker import`.
# build.sh rebuilds the base image when this file changes (its hash is stored in a label).
#
# usage: rootfs.sh OUTPUT.tar SOURCES_FILE
#   SOURCES_FILE is the host's apt sources file (deb822 .sources or one-line sources.list);
#   mmdebstrap copies it into the image, so the mirror is never named in this project.
set -euo pipefail
out=$1 sources=$2

# Docs, man pages, translations and lintian overrides are excluded by dpkg; the
# exclusions are written to /etc/dpkg/dpkg.cfg.d/99mmdebstrap, so they also apply
# to every package installed later on top of this image.
# The hooks are shell code that mmdebstrap runs with $1 = the rootfs directory.
# shellcheck disable=SC2016
exec mmdebstrap \
  --variant=minbase \
  --format=tar \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --aptopt='Acquire::Languages "none"' \
  --aptopt='APT::Install-Recommends "false"' \
  --aptopt='APT::Install-Suggests "false"' \
  --customize-hook='printf "#!/bin/sh\n# no daemons are started by package scripts in images\nexit 101\n" > "$1/usr/sbin/policy-rc.d"; chmod 0755 "$1/usr/sbin/policy-rc.d"' \
  --customize-hook='printf "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };\nDir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n" > "$1/etc/apt/apt.conf.d/docker-clean"' \
  --customize-hook=': > "$1/etc/hostname"; : > "$1/etc/resolv.conf"; rm -f "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/var/log/apt/*.log "$1/var/cache/ldconfig/aux-cache"' \
  bookworm "$out" "$sources"
