#!/bin/sh
# Registers the worker's custom search attributes (src/shared/search-attributes.ts) on a
# Temporal server, then exits. Run by the one-shot temporal-admin-tools service of
# docker-compose.temporal.yml; works against any server with the `temporal` CLI on PATH.
# Idempotent: attributes already registered are left alone, so re-running it is safe.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
ATTRIBUTES="${SEARCH_ATTRIBUTES:-JobId JobType Priority Renderer RenderStatus}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"

log() {
  printf '{"level":"%s","msg":"%s","namespace":"%s","address":"%s"}\n' "$1" "$2" "$NAMESPACE" "$ADDRESS"
}

# auto-setup creates the namespace a little after the server starts answering health checks.
waited=0
until temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    log error "namespace not found after ${WAIT_SECONDS}s"
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

existing="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" --output json)"
for name in $ATTRIBUTES; do
  if printf '%s' "$existing" | grep -q "\"$name\""; then
    log info "search attribute $name already registered"
    continue
  fi
  temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
    --name "$name" --type Keyword >/dev/null
  log info "search attribute $name registered (Keyword)"
done
