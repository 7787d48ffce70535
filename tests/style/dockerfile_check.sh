#!/bin/sh
# Checks that the Dockerfile builds what this tree builds, without a container engine (none runs
# on the development machines):
#   1. its build stage installs scripts/setup.sh's build_pkgs (less cmocka and ccache),
#   2. its runtime stage installs the Debian package of every library the built agent names
#      (ELF NEEDED, owner found with dpkg -S on this Debian),
#   3. .dockerignore lets through every source directory the top-level CMakeLists.txt builds
#      (it adds some only if they exist, so a missing one fails at link time, not at configure).
# usage: dockerfile_check.sh SOURCE_DIR FLOWSCOPE_BINARY
set -eu
src=$1
bin=$2
fail=0
err() {
	echo "dockerfile_check: $*" >&2
	fail=1
}

# The words of the first (build) and the second (runtime) apt-get install in the Dockerfile.
apt_list() {
	awk -v want="$1" '
		/apt-get install/ { n++; on = (n == want); next }
		on && /&&/ { on = 0 }
		on { for (i = 1; i <= NF; i++) if ($i != "\\") print $i }
	' "$src/Dockerfile" | sort -u
}
build_image=$(apt_list 1)
run_image=$(apt_list 2)
[ -n "$build_image" ] || err "no build package list found in Dockerfile"
[ -n "$run_image" ] || err "no runtime package list found in Dockerfile"

build_setup=$(sed -n '/^build_pkgs=(/,/^)/p' "$src/scripts/setup.sh" | sed '1d;$d' |
	tr ' \t' '\n\n' | grep -v -e '^$' -e '^libcmocka-dev$' -e '^ccache$' | sort -u)
[ -n "$build_setup" ] || err "no build_pkgs found in scripts/setup.sh"
for p in $build_setup; do
	echo "$build_image" | grep -qx "$p" || err "setup.sh build package $p missing from the Dockerfile build stage"
done
for p in $build_image; do
	echo "$build_setup" | grep -qx "$p" || err "Dockerfile build package $p not in setup.sh build_pkgs"
done

needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || err "no NEEDED entries in $bin"
for lib in $needed; do
	path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
	[ -n "$path" ] || {
		err "$lib: not resolved by ldd"
		continue
	}
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)
	pkg=$(echo "$pkg" | head -n1 | cut -d: -f1)
	[ -n "$pkg" ] || {
		err "$lib ($path): no Debian package owns it"
		continue
	}
	# libc6 is in every Debian image (priority required).
	[ "$pkg" = libc6 ] && continue
	echo "$run_image" | grep -qx "$pkg" || err "$lib is in package $pkg, missing from the Dockerfile runtime stage"
done

# Directories the top-level CMakeLists.txt descends into (tests and bench are off in the image).
dirs=$(sed -n -e 's/^[[:space:]]*foreach(lib \(.*\))/\1/p' \
	-e 's/^[[:space:]]*add_subdirectory(\([a-z_]*\))/\1/p' \
	-e 's/^[[:space:]]*include(\([a-z_]*\)\/.*/\1/p' "$src/CMakeLists.txt" |
	tr ' ' '\n' | grep -v -e '^$' -e '^tests$' -e '^bench$' | sort -u)
[ -n "$dirs" ] || err "no source directories found in CMakeLists.txt"
for d in $dirs; do
	[ -d "$src/$d" ] || continue
	grep -qx "!$d/" "$src/.dockerignore" || err "$d/ is built but .dockerignore leaves it out of the context"
done

[ "$fail" -eq 0 ] || exit 1
echo "dockerfile_check: ok ($(echo $build_image | wc -w) build and $(echo $run_image | wc -w) runtime packages, dirs: $(echo $dirs))"
