#!/usr/bin/env bash
# The generated man pages render without groff warnings, show their NAME
# section with man -l, and jetback(1) names every subcommand the CLI has.
# Usage: man_test.sh MAN_DIR JETBACK
set -euo pipefail
dir=$1 jetback=$2 fail=0
for page in jetback.1 jetbackd.8 jetbackd.toml.5; do
  warnings=$(groff -man -ww -z "$dir/$page" 2>&1)
  if [[ -n $warnings ]]; then
    echo "FAIL: $page: groff: $warnings" >&2
    fail=1
  fi
  if ! MANWIDTH=80 man -l "$dir/$page" 2>/dev/null | grep -q '^NAME'; then
    echo "FAIL: $page: man -l shows no NAME section" >&2
    fail=1
  fi
done
text=$(MANWIDTH=200 man -l "$dir/jetback.1" 2>/dev/null)
commands=$("$jetback" --help | sed -n '/^Subcommands:/,/^$/p' |
  awk 'NR > 1 && NF { print $1 }')
[[ -n $commands ]] || { echo "FAIL: no subcommands in jetback --help" >&2; exit 1; }
for c in $commands; do
  if ! grep -qw -- "$c" <<<"$text"; then
    echo "FAIL: jetback(1) does not name the subcommand '$c'" >&2
    fail=1
  fi
done
exit $fail
