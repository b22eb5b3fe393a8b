#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's runtime base (debian:12.11-slim) when no registry
# is reachable: a minbase bookworm from the host's Debian mirror, shaped like Debian's official
# image (merged /usr, the docker-* apt settings, no docs/locales), written as a tarball for
# `podman import`. smoke-image.sh hashes this file (and the mirror list) to know when to rebuild.
#
# Usage: smoke-image-base.sh OUT.tar SOURCES_FILE
set -euo pipefail
out=$1
sources=$2

# The apt settings Debian's docker images carry (debuerreotype): no caches or lists kept by
# `apt-get clean`, no Recommends-of-Suggests autoremove pinning, no translations.
# shellcheck disable=SC2016  # $1 is the hook's argument (the chroot), expanded by mmdebstrap's sh
apt_hook='set -e
conf="$1/etc/apt/apt.conf.d"
cat > "$conf/docker-clean" <<CONF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
echo "Apt::AutoRemove::SuggestsImportant \"false\";" > "$conf/docker-autoremove-suggests"
echo "Acquire::GzipIndexes \"true\";" > "$conf/docker-gzip-indexes"
echo "Acquire::Languages \"none\";" > "$conf/docker-no-languages"
rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/apt/* "$1"/var/log/dpkg.log'

# slim: what Debian's -slim images leave out (dpkg path excludes, kept in the image).
exec mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook="$apt_hook" \
    bookworm "$out" "$sources"
