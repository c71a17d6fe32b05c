#!/usr/bin/env bash
# Print the path of a `promtool` binary (Prometheus' rule checker), built from the Go module
# proxy on first use and cached. Prometheus' release tarballs are not needed: the Go module
# github.com/prometheus/prometheus v0.3xx.y is Prometheus 3.xx.y. Service discovery plugins are left
# out (build tag remove_all_sd): rule checks and rule unit tests do not use them.
set -euo pipefail
VERSION=${PROMTOOL_VERSION:-v0.315.0}
CACHE=${JACKPOT_CACHE_DIR:-$HOME/.cache/jackpot}
BIN="$CACHE/promtool-$VERSION"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "promtool: Go is required to build promtool" >&2; exit 1; }
  mkdir -p "$CACHE"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && go mod init promtool-build >/dev/null 2>&1 \
     && go get "github.com/prometheus/prometheus/cmd/promtool@$VERSION" >/dev/null 2>&1 \
     && go build -tags remove_all_sd -o "$BIN.tmp" github.com/prometheus/prometheus/cmd/promtool) \
    || { echo "promtool: building promtool $VERSION failed" >&2; exit 1; }
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
