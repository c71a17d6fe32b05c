#!/usr/bin/env bash
# Make `docker compose` available as a CLI plugin, built from the Go module proxy.
# There is no Docker engine on these machines, but `docker compose config` needs only
# the plugin to parse and validate ops/compose.yaml.
set -euo pipefail
VERSION=${COMPOSE_VERSION:-v2.40.3}
CACHE=${JACKPOT_CACHE_DIR:-$HOME/.cache/jackpot}
BIN="$CACHE/docker-compose-$VERSION"
PLUGIN_DIR="$HOME/.docker/cli-plugins"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "compose-cli: Go is required to build the compose plugin" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && go mod init compose-cli >/dev/null 2>&1 \
     && go get "github.com/docker/compose/v2/cmd@$VERSION" >/dev/null 2>&1 \
     && go build -o "$BIN.tmp" github.com/docker/compose/v2/cmd) \
    || { echo "compose-cli: building docker compose $VERSION failed" >&2; exit 1; }
  mv "$BIN.tmp" "$BIN"
fi
mkdir -p "$PLUGIN_DIR"
ln -sf "$BIN" "$PLUGIN_DIR/docker-compose"
