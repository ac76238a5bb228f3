# The pooled-connection experiment (pooled-pair.mjs) as the peers' `custom` pair, in place of
# Lanyard's: source this file, then run the peers' scripts with PAIRS including `custom`.
# It runs with the sidecar launcher's memory settings (proxy/bin/lanyard-proxy), so its
# memory compares with Lanyard's.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node="env MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --heap-growing-percent=50"
export CUSTOM_INBOUND_CMD="$node $here/pooled-pair.mjs inbound 127.0.0.1:\$IN_PORT 127.0.0.1:\$BACKEND_PORT"
export CUSTOM_OUTBOUND_CMD="$node $here/pooled-pair.mjs outbound 127.0.0.1:\$OUT_PORT 127.0.0.1:\$IN_PORT"
