#!/bin/sh
# mkdeb: samen_VERSION_ARCH.deb from a staged `make install PREFIX=/usr`.
#
#   dist/mkdeb.sh ROOT VERSION OUTDIR
#
# ROOT is the staged tree (make deb puts it in build/deb/root); this turns
# it into what Debian's policy asks of a binary package (stripped
# binaries, compressed man pages and documents, the copyright file and
# changelog, md5sums, a control file whose Depends dpkg-shlibdeps computes
# from the binaries' own libraries), builds OUTDIR/samen_VERSION_ARCH.deb
# with dpkg-deb, and runs lintian on it when lintian is installed: an
# error is a failure.  No debhelper: the package is one staged install,
# and `make deb` then needs nothing but dpkg-dev.

set -eu

[ $# -eq 3 ] || { echo "usage: $0 ROOT VERSION OUTDIR" >&2; exit 2; }
root=$(cd "$1" && pwd)
version=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
umask 022

arch=$(dpkg --print-architecture)
deb=$out/samen_${version}_$arch.deb
doc=$root/usr/share/doc/samen

# The changelog's newest entry must be this version: dpkg and apt show it.
top=$(sed -n '1s/^samen (\([^)]*\)).*/\1/p' "$here/changelog")
if [ "$top" != "$version" ]; then
	echo "mkdeb: dist/changelog's newest entry is $top, not $version:" \
	    "add one" >&2
	exit 1
fi

strip --remove-section=.comment --remove-section=.note --strip-unneeded \
    "$root/usr/bin/samen" "$root/usr/bin/samend"
gzip -9nf "$root"/usr/share/man/man*/*
# Policy 12.3: documents over 4 KiB are compressed (zless reads them);
# not the example configuration, which samen.conf(5) names as it is.
find "$doc" -path "$doc/examples" -prune -o -type f -size +4k \
    ! -name '*.gz' -exec gzip -9nf {} +
install -m 0644 "$here/copyright" "$doc/copyright"
gzip -9nc "$here/changelog" >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# dpkg-shlibdeps reads the package's name from debian/control.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/debian"
printf 'Source: samen\n\nPackage: samen\nArchitecture: any\n' \
    >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "-e$root/usr/bin/samen" \
    "-e$root/usr/bin/samend" 2>"$work/shlibdeps.err" |
    sed -n 's/^shlibs:Depends=//p') || true
if [ -z "$depends" ]; then
	cat "$work/shlibdeps.err" >&2
	echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2
	exit 1
fi

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" \
    -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
    "$here/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort |
    xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "mkdeb: $deb"
echo "mkdeb: Depends: $depends"

if command -v lintian >/dev/null 2>&1; then
	# Every tag is shown; only an error fails.  Root is warned against,
	# not refused (the containers CI runs in): that line is left out.
	rc=0
	lintian --fail-on error --tag-display-limit 0 "$deb" \
	    >"$work/lintian.out" 2>&1 || rc=$?
	grep -v 'running with root privileges' "$work/lintian.out" || true
	if [ "$rc" -ne 0 ]; then
		rm -f "$deb"
		echo "mkdeb: lintian reports errors: $deb removed" >&2
		exit 1
	fi
	echo "mkdeb: lintian: no errors"
else
	echo "mkdeb: lintian is not installed: not checked"
fi
