// The command line both experiments share (they run on plain `node`, without a build):
//   node EXPERIMENT outbound 127.0.0.1:LISTEN 127.0.0.1:INBOUND   (plain in -> mTLS out)
//   node EXPERIMENT inbound  127.0.0.1:LISTEN 127.0.0.1:BACKEND   (mTLS in  -> plain out)
// Certificates come from the environment (the peers' CA, CLIENT_CERT/KEY, SERVER_CERT/KEY,
// SERVER_NAME).

const hostPort = (s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) });

/** Runs `outbound` or `inbound` (each called with listen, target, env) as argv says. */
export function runPair(name, { outbound, inbound }) {
  const [mode, listenAt, targetAt] = process.argv.slice(2);
  const run = { outbound, inbound }[mode];
  if (!run || !listenAt || !targetAt) {
    console.error(`usage: ${name} outbound|inbound LISTEN_HOST:PORT TARGET_HOST:PORT`);
    process.exit(2);
  }
  run(hostPort(listenAt), hostPort(targetAt), process.env);
}
