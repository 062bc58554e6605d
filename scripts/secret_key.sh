#!/usr/bin/env bash
# Print the local install's secret key, making it on the first call: 64 random characters in a
# git-ignored file readable by its owner only (default .secret_key at the repository root), so
# a restart of `make run` keeps everybody logged in.
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-.secret_key}"
if [ ! -s "$file" ]; then
    umask 077
    tmp=$(mktemp "$file.XXXXXX")
    head -c 48 /dev/urandom | base64 | tr -d '\n' >"$tmp"
    mv "$tmp" "$file"  # whole or not at all, even when two starts race
fi
cat "$file"
