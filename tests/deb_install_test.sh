#!/usr/bin/env bash
# The built Debian packages, unpacked into an empty tree (dpkg-deb -x): every
# file an operator needs is where it should be, the units name files the
# packages ship, the maintainer scripts create the user and directories and
# enable the service, conffiles are the files under /etc, and the binaries
# from the tree run: --version (with the expected revision), a jetbackd from
# the tree serving a backup that the jetback from the tree takes and
# verifies, and the example agent built against the -dev package.
# Usage: deb_install_test.sh DEB_DIR [EXPECTED_REVISION]
set -uo pipefail
debs=$(realpath "$1") want_revision=${2:-}
work=$(mktemp -d /tmp/jetback-deb-test.XXXXXX)
root=$work/root
daemon_pid=
cleanup() {
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0 checks=0
pass() { checks=$((checks + 1)); echo "PASS $1${2:+: $2}"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1: $2"; }
check() {  # check NAME COMMAND...: PASS when COMMAND succeeds
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$* -> $out"; fi
}

version=$(cd "$(dirname "$0")/.." && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
pkgs=(jetback libjetback-client0 libjetback-client-dev)
mkdir -p "$root"
for p in "${pkgs[@]}"; do
  deb=$debs/${p}_${version}_${arch}.deb
  if [[ -f $deb ]]; then
    dpkg-deb -x "$deb" "$root" && pass "unpack $p"
  else
    fail "unpack $p" "no $deb"
  fi
done
jetback_deb=$debs/jetback_${version}_${arch}.deb

# --- Files in place (man pages compressed by dh_compress).
lib=usr/lib/$multiarch
for f in usr/bin/jetback usr/sbin/jetbackd \
  lib/systemd/system/jetbackd.service \
  lib/systemd/system/jetback-backup@.service \
  lib/systemd/system/jetback-backup@.timer \
  usr/lib/sysusers.d/jetbackd.conf usr/lib/tmpfiles.d/jetbackd.conf \
  etc/jetback/jetbackd.toml etc/jetback/backup.env \
  usr/share/man/man1/jetback.1.gz usr/share/man/man8/jetbackd.8.gz \
  usr/share/man/man5/jetbackd.toml.5.gz \
  usr/share/bash-completion/completions/jetback \
  usr/share/jetback/jetback-alerts.yml \
  "$lib/libjetback_client.so.0" "$lib/libjetback_client.so" \
  "$lib/pkgconfig/jetback-esent.pc" "$lib/cmake/jetback/jetbackConfig.cmake" \
  usr/include/jetback/esent.h usr/include/jetback/jet_err_table.inc \
  usr/share/doc/libjetback-client-dev/examples/esent_agent.c \
  usr/share/doc/jetback/copyright; do
  if [[ -e $root/$f ]]; then pass "file /$f"; else fail "file /$f" "missing"; fi
done

# --- The units name what the package ships.
unit=$root/lib/systemd/system/jetbackd.service
exec_line=$(grep '^ExecStart=' "$unit")
exe=$(sed -E 's/^ExecStart=([^ ]+).*/\1/' <<<"$exec_line")
conf=$(sed -nE 's/.*--config=([^ ]+).*/\1/p' <<<"$exec_line")
if [[ $exe == /usr/sbin/jetbackd && $conf == /etc/jetback/jetbackd.toml ]]; then
  pass "unit ExecStart" "$exec_line"
else
  fail "unit ExecStart" "$exec_line"
fi
backup_unit=$root/lib/systemd/system/jetback-backup@.service
if grep -q 'exec /usr/bin/jetback ' "$backup_unit" &&
   grep -q '^EnvironmentFile=-/etc/jetback/backup.env' "$backup_unit"; then
  pass "backup unit paths"
else
  fail "backup unit paths" "$(grep -E '^(ExecStart|EnvironmentFile)=' "$backup_unit")"
fi

# --- Control data: conffiles, maintainer scripts, dependencies.
control=$work/control
dpkg-deb -e "$jetback_deb" "$control"
if [[ $(sort "$control/conffiles" | paste -sd' ') == "/etc/jetback/backup.env /etc/jetback/jetbackd.toml" ]]; then
  pass conffiles
else
  fail conffiles "$(paste -sd' ' "$control/conffiles")"
fi
check "postinst: systemd-sysusers" grep -q 'systemd-sysusers .*jetbackd.conf' "$control/postinst"
check "postinst: systemd-tmpfiles --create" grep -q 'systemd-tmpfiles .*--create jetbackd.conf' "$control/postinst"
check "postinst: enables jetbackd.service" grep -q "deb-systemd-helper .*enable 'jetbackd.service'" "$control/postinst"
check "postrm: purge" grep -q "deb-systemd-helper purge 'jetbackd.service'" "$control/postrm"
depends=$(dpkg-deb -f "$jetback_deb" Depends)
if grep -q 'systemd | systemd-standalone-sysusers' <<<"$depends" &&
   grep -q 'libgrpc++' <<<"$depends"; then
  pass "Depends" "$depends"
else
  fail "Depends" "$depends"
fi

# --- The binaries from the tree run (shared libraries from the system; the
# client library from the tree).
export LD_LIBRARY_PATH=$root/$lib
for bin in usr/bin/jetback usr/sbin/jetbackd; do
  out=$("$root/$bin" --version 2>&1)
  if [[ $? == 0 && $out == *"$version"* && $out == *"${want_revision:-}"* ]]; then
    pass "$bin --version" "$out"
  else
    fail "$bin --version" "want $version ${want_revision:-}, got: $out"
  fi
done
missing=$(ldd "$root/usr/bin/jetback" "$root/usr/sbin/jetbackd" "$root/$lib/libjetback_client.so.0" | grep 'not found')
if [[ -z $missing ]]; then pass "ldd"; else fail "ldd" "$missing"; fi

# Man pages render from the tree; the completion loads.
for page in man1/jetback.1 man8/jetbackd.8 man5/jetbackd.toml.5; do
  if MANWIDTH=80 man -l "$root/usr/share/man/$page.gz" 2>/dev/null | grep -q '^NAME'; then
    pass "man -l $page"
  else
    fail "man -l $page" "no NAME section"
  fi
done
check "completion loads" bash -c "source '$root/usr/share/bash-completion/completions/jetback' && complete -p jetback"

# A backup: the tree's jetbackd on its embedded default, the tree's jetback.
export JETBACK_STATE_DIR=$work/state
"$root/usr/sbin/jetbackd" 2>"$work/jetbackd.log" &
daemon_pid=$!
for _ in $(seq 1 100); do
  "$root/usr/bin/jetback" health >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1   # waiting for the daemon we just started to listen
done
if out=$("$root/usr/bin/jetback" backup --instance demo --out "$work/set" 2>&1) &&
   out2=$("$root/usr/bin/jetback" verify --deep "$work/set" 2>&1); then
  pass "backup + verify --deep through the packaged binaries" "$(tail -1 <<<"$out2")"
else
  fail "backup + verify" "$out ${out2:-}; $(tail -3 "$work/jetbackd.log")"
fi

# The example agent, built against the -dev package only (its relocatable
# pkg-config file), links libjetback_client.so.0 from the tree and runs.
pcdir=$root/$lib/pkgconfig
if cc -std=c11 -Wall -Werror "$root/usr/share/doc/libjetback-client-dev/examples/esent_agent.c" \
     -o "$work/agent" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs jetback-esent) \
     >"$work/cc.log" 2>&1 &&
   ldd "$work/agent" | grep -q "libjetback_client.so.0 => $root/$lib/"; then
  pass "example agent builds against the -dev package"
  socket=unix:$JETBACK_STATE_DIR/jetbackd.sock
  mkdir -p "$work/agent-set"
  if out=$("$work/agent" "$socket" demo "$work/agent-set" 2>&1) &&
     [[ -s $work/agent-set/demo.edb ]]; then
    pass "example agent backs up" "$(tail -1 <<<"$out")"
  else
    fail "example agent backs up" "$out"
  fi
else
  fail "example agent builds" "$(cat "$work/cc.log")"
fi

echo "deb_install_test: $((checks - failures))/$checks passed"
((failures == 0))
