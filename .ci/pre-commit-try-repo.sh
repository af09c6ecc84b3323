#!/usr/bin/env bash
# Show the repository's pre-commit hook failing on a dirty dataset and passing on a clean one:
#   bash .ci/pre-commit-try-repo.sh [REPO]     (REPO defaults to this checkout; needs pre-commit)
# pre-commit builds the hook's own environment from the package index the first time (minutes).
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q .
printf '%s\n' '{"messages":[{"role":"user","content":"Refund my order"},{"role":"assistant","content":""}]}' > dirty.jsonl
printf '%s\n' '{"messages":[{"role":"user","content":"Refund my order"},{"role":"assistant","content":"I have started the refund."}]}' > clean.jsonl
git add dirty.jsonl clean.jsonl
if pre-commit try-repo "$repo" tunelint --files dirty.jsonl; then
  echo "expected the hook to fail on dirty.jsonl" >&2; exit 1
fi
pre-commit try-repo "$repo" tunelint --files clean.jsonl
echo "pre-commit hook: fails on a dirty dataset, passes on a clean one"
