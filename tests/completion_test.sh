#!/usr/bin/env bash
# The bash completion script as the build generates it: it loads, completes
# subcommands (nested ones too), a command's flags, and file names after a
# flag that takes a value. Usage: completion_test.sh SCRIPT
set -euo pipefail
source "$1"
fail=0
check() {  # check "WORDS..." CWORD EXPECTED-WORD
  local -a words
  read -r -a words <<<"$1"
  COMP_WORDS=("${words[@]}" "${4:-}")
  COMP_WORDS[$2]=${words[$2]:-}
  COMP_CWORD=$2
  COMPREPLY=()
  _jetback
  if [[ " ${COMPREPLY[*]} " != *" $3 "* ]]; then
    echo "FAIL: '$1' (word $2): want '$3' in: ${COMPREPLY[*]}" >&2
    fail=1
  fi
}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/set-file"
check "jetback ba" 1 backup
check "jetback re" 1 restore
check "jetback backup --in" 2 --instance
check "jetback backup --instance demo --o" 4 --out
check "jetback --ser" 1 --server
check "jetback restore --t" 2 --to
check "jetback backup --out $dir/set-f" 3 "$dir/set-file"
check "jetback comp" 1 completion
complete -p jetback >/dev/null
exit $fail
