# Our proxy pair for ../shared/bench/peers (the `custom` pair): source this file, then run
# the peers' scripts with PAIRS including `custom`. Both proxies use static certificates from
# the peers' PKI (LANYARD_PROXY_CERT_FILE/KEY_FILE), so the same CA, names and checks apply
# to every pair. The identity names are the peers' (control namespace `mesh`).
LANYARD_ROOT=${LANYARD_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export LANYARD_ROOT
# The sidecar's own launcher (proxy/bin/lanyard-proxy) sets its node and malloc flags;
# LANYARD_NODE_FLAGS adds more (e.g. --cpu-prof).
common='LANYARD_CONTROL_NAMESPACE=mesh LANYARD_PROXY_TRUST_ANCHORS=$CA LANYARD_PROXY_ADMIN_ADDR=127.0.0.1:0 LANYARD_LOG_LEVEL=${LANYARD_LOG_LEVEL:-info}'
export CUSTOM_INBOUND_CMD="env $common LANYARD_PROXY_INBOUND_ADDR=127.0.0.1:\$IN_PORT LANYARD_PROXY_OUTBOUND_ADDR=127.0.0.1:0 LANYARD_PROXY_APP_PORT=\$BACKEND_PORT LANYARD_PROXY_CERT_FILE=\$SERVER_CERT LANYARD_PROXY_KEY_FILE=\$SERVER_KEY LANYARD_PROXY_LOCAL_IDENTITY=\$SERVER_NAME LANYARD_PROXY_DEFAULT_POLICY=all-authenticated \$LANYARD_ROOT/proxy/bin/lanyard-proxy"
export CUSTOM_OUTBOUND_CMD="env $common LANYARD_PROXY_INBOUND_ADDR=127.0.0.1:0 \"LANYARD_PROXY_ROUTES=[{listen: 127.0.0.1:\$OUT_PORT, upstream: 127.0.0.1:\$IN_PORT, identity: \$SERVER_NAME}]\" LANYARD_PROXY_CERT_FILE=\$CLIENT_CERT LANYARD_PROXY_KEY_FILE=\$CLIENT_KEY LANYARD_PROXY_LOCAL_IDENTITY=frontend.default.serviceaccount.identity.mesh.cluster.local \$LANYARD_ROOT/proxy/bin/lanyard-proxy"
