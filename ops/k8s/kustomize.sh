#!/usr/bin/env bash
# Print the path of a `kustomize` binary, built from the Go module proxy on first use and cached.
set -euo pipefail
VERSION=${KUSTOMIZE_VERSION:-v5.8.0}
CACHE=${JACKPOT_CACHE_DIR:-$HOME/.cache/jackpot}
BIN="$CACHE/kustomize-$VERSION"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "kustomize: Go is required to build kustomize" >&2; exit 1; }
  mkdir -p "$CACHE"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && go mod init kustomize-build >/dev/null 2>&1 \
     && go get "sigs.k8s.io/kustomize/kustomize/v5@$VERSION" >/dev/null 2>&1 \
     && go build -o "$BIN.tmp" sigs.k8s.io/kustomize/kustomize/v5) \
    || { echo "kustomize: building kustomize $VERSION failed" >&2; exit 1; }
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
