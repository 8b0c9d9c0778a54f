#!/usr/bin/env bash
# debian/ agrees with `cmake --install`: every file the install puts in a
# staging directory is claimed by exactly one package's debian/*.install
# list, and every list entry claims at least one file (dh_missing
# --fail-missing checks the first half too, but only in a package build,
# which is not part of scripts/test; this runs in seconds).
# Usage: debian_lists_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1 src=$2
stage=$(mktemp -d /tmp/jetback-debian-lists.XXXXXX)
trap 'rm -rf "$stage"' EXIT
if ! out=$(DESTDIR=$stage cmake --install "$build" --prefix /usr 2>&1); then
  echo "FAIL: cmake --install: $out" >&2; exit 1
fi
# The package installs the units to /lib/systemd/system
# (-DJETBACK_SYSTEMD_UNIT_DIR in debian/rules); this build uses the default.
staged=$(cd "$stage" && find . -type f -o -type l | sed -E 's|^\./||; s|^usr/lib/systemd/system/|lib/systemd/system/|' | sort)
[[ -n $staged ]] || { echo "FAIL: cmake --install staged nothing" >&2; exit 1; }

# debian/PKG.install entry -> an anchored regex over staged paths.
to_regex() {
  sed -E 's|\$\{DEB_HOST_MULTIARCH\}/|@MA@|g; s/[.+?()|^$]/\\&/g; s|@MA@|([^/]+-linux-[^/]+/)?|g; s|\*|[^/]*|g; s|/$|/.*|; s|^|^|; s|$|$|' <<<"$1"
}
fail=0
declare -A claimed
for list in "$src"/debian/*.install; do
  pkg=$(basename "$list" .install)
  while read -r entry _; do
    [[ -z $entry || $entry == \#* ]] && continue
    re=$(to_regex "$entry")
    matches=$(grep -E "$re" <<<"$staged")
    if [[ -z $matches ]]; then
      echo "FAIL: $pkg.install: '$entry' matches nothing cmake --install installs" >&2
      fail=1
    fi
    while IFS= read -r f; do
      [[ -z $f ]] && continue
      if [[ -n ${claimed[$f]:-} ]]; then
        echo "FAIL: /$f is claimed by both ${claimed[$f]} and $pkg" >&2
        fail=1
      fi
      claimed[$f]=$pkg
    done <<<"$matches"
  done <"$list"
done
n=0
while IFS= read -r f; do
  n=$((n + 1))
  if [[ -z ${claimed[$f]:-} ]]; then
    echo "FAIL: /$f (installed by cmake --install) is in no debian/*.install" >&2
    fail=1
  fi
done <<<"$staged"
for ex in "$src"/debian/*.examples; do
  while read -r f; do
    [[ -z $f || -e $src/$f ]] || { echo "FAIL: $(basename "$ex"): $f missing" >&2; fail=1; }
  done <"$ex"
done
((fail)) || echo "PASS: $n installed files, each in exactly one package"
exit $fail
