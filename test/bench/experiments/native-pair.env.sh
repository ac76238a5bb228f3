# The native-relay experiment (native-pair.mjs) as the peers' `custom` pair, in place of
# Lanyard's: source this file, then run the peers' scripts with PAIRS including `custom`.
# It builds the experiment's addon (native-relay/) with the project's node-gyp when it is
# missing or older than relay.c, and runs with the sidecar launcher's memory settings
# (proxy/bin/lanyard-proxy), so its memory compares with Lanyard's.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
built="$here/native-relay/build/Release/native_relay.node"
if [ ! -f "$built" ] || [ "$here/native-relay/relay.c" -nt "$built" ]; then
  nodedir=; [ -f /usr/include/node/node_api.h ] && nodedir=--nodedir=/usr
  (cd "$here/native-relay" && "$here/../../../node_modules/.bin/node-gyp" rebuild $nodedir >/dev/null) ||
    echo "native-pair.env.sh: building native-relay failed (run node-gyp rebuild in $here/native-relay)" >&2
fi
node="env MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --heap-growing-percent=50"
export CUSTOM_INBOUND_CMD="$node $here/native-pair.mjs inbound 127.0.0.1:\$IN_PORT 127.0.0.1:\$BACKEND_PORT"
export CUSTOM_OUTBOUND_CMD="$node $here/native-pair.mjs outbound 127.0.0.1:\$OUT_PORT 127.0.0.1:\$IN_PORT"
