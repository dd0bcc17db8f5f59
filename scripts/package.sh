#!/usr/bin/env bash
# Builds the Debian package pwire_<version>_<arch>.deb with dpkg-deb (nothing beyond dpkg and
# binutils, which any Debian build machine has): /usr/bin/pwire and /usr/bin/pwctl from a
# release build, /etc/pwire/startup.conf (a conffile that runs with no NIC), the systemd unit,
# a logrotate file and the maintainer scripts, all from scripts/debian/. The binaries are
# stripped; Depends is read off the binaries (their newest glibc symbol version, and every
# library they link, which must be one this script knows a package for).
#
# Usage: scripts/package.sh [--out DIR] [--no-build]
#   --out DIR    where the .deb goes (default target/debian)
#   --no-build   package target/release/{pwire,pwctl} as they are
# The last line printed is the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/debian
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "package.sh: unknown argument \`$1' (--out DIR, --no-build)" >&2; exit 2 ;;
  esac
done

for t in dpkg-deb objdump readelf strip; do
  command -v "$t" >/dev/null || { echo "package.sh: \`$t' not found (dpkg, binutils)" >&2; exit 1; }
done

if [ "$build" = 1 ]; then
  echo "== cargo build --release -p pwire -p pwctl" >&2
  cargo build --release -q -p pwire -p pwctl
fi
bins=(target/release/pwire target/release/pwctl)
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "package.sh: $b is missing (build it, or drop --no-build)" >&2; exit 1; }
done

version=$(target/release/pwire --version | awk '{print $2}')
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "package.sh: odd version \`$version'" >&2; exit 1; }
arch=$(dpkg --print-architecture)

# Depends from what the binaries link: glibc's newest symbol version, and a package per library.
glibc=$(objdump -T "${bins[@]}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
deps=("libc6 (>= ${glibc:?no glibc symbol version found})")
for lib in $(readelf -d "${bins[@]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
  case "$lib" in
    libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-x86-64.so.2) ;;
    libgcc_s.so.1) deps+=("libgcc-s1") ;;
    *) echo "package.sh: the binaries link $lib: add its package to package.sh" >&2; exit 1 ;;
  esac
done
deps+=("adduser") # postinst: addgroup, adduser

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # mktemp made it 0700: it becomes the entry for /
d=scripts/debian
install -d -m 0755 "$stage/DEBIAN"
install -D -m 0755 target/release/pwire "$stage/usr/bin/pwire"
install -D -m 0755 target/release/pwctl "$stage/usr/bin/pwctl"
strip --strip-unneeded "$stage/usr/bin/pwire" "$stage/usr/bin/pwctl"
install -D -m 0644 "$d/startup.conf" "$stage/etc/pwire/startup.conf"
install -D -m 0644 "$d/logrotate" "$stage/etc/logrotate.d/pwire"
install -D -m 0644 "$d/pwire.service" "$stage/lib/systemd/system/pwire.service"
install -D -m 0644 "$d/copyright" "$stage/usr/share/doc/pwire/copyright"
install -D -m 0644 "$d/README.Debian" "$stage/usr/share/doc/pwire/README.Debian"
for s in postinst prerm postrm; do
  install -m 0755 "$d/$s" "$stage/DEBIAN/$s"
done
printf '%s\n' /etc/pwire/startup.conf /etc/logrotate.d/pwire >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
dep_line=$(IFS=,; echo "${deps[*]}" | sed 's/,/, /g')
cat >"$stage/DEBIAN/control" <<EOF
Package: pwire
Version: $version
Architecture: $arch
Maintainer: pwire developers <pwire@localhost>
Installed-Size: $size
Depends: $dep_line
Section: net
Priority: optional
Description: VPP-style vector dataplane for L2TPv3 pseudowires
 pwire terminates L2TPv3 pseudowires (RFC 3931, RFC 4719 Ethernet) over IPv6
 into L2 bridge domains. It speaks FD.io VPP's CLI (pwctl, like vppctl) and
 reads VPP's startup.conf grammar. This package runs it as a systemd service
 with AF_PACKET host interfaces; it has no DPDK.
EOF

mkdir -p "$out"
deb="$out/pwire_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
