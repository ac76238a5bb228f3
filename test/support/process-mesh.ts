/**
 * A mesh of real processes on loopback for the operator tooling's tests: `lanyard identity`
 * (identity-process.ts, on a development PKI in its own directory) and `lanyard proxy`
 * processes (mesh-harness.ts's spawnProxy) that certify through it with minted tokens.
 * Proxies read the bundle file they are given, so a test decides which of them sees a
 * change of the bundle.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lanyard } from './cli.js';
import { startIdentityProcess, type IdentityProcess } from './identity-process.js';
import { identityOf, spawnProxy, type ProxyProcess } from './mesh-harness.js';

export interface ProcessMesh {
  identity: IdentityProcess;
  /** The development PKI the identity service reads: issuer.crt, issuer.key, ca.crt. */
  pkiDir: string;
  /** The bundle the identity service reads (and proxies by default). */
  bundlePath: string;
  proxies: ProxyProcess[];
  /** `127.0.0.1:<admin port>` of a proxy. */
  adminOf(p: ProxyProcess): string;
  proxy(name: string, o?: { anchorsFile?: string; env?: Record<string, string> }): Promise<ProxyProcess>;
  stop(): Promise<void>;
}

export async function startProcessMesh(identityArgs: string[] = []): Promise<ProcessMesh> {
  const identity = await startIdentityProcess(identityArgs);
  const pkiDir = identity.pkiDir;
  const proxies: ProxyProcess[] = [];
  const mesh: ProcessMesh = {
    identity,
    pkiDir,
    bundlePath: join(pkiDir, 'ca.crt'),
    proxies,
    adminOf: (p) => `127.0.0.1:${p.admin}`,
    async proxy(name, o = {}) {
      const token = await lanyard(['token', 'mint', '--ns', 'default', '--sa', name, '--pki-dir', pkiDir, '--ttl', '2h']);
      if (token.code !== 0) throw new Error(`token mint: ${token.stderr}`);
      const tokenFile = join(identity.dir, `${name}.token`);
      writeFileSync(tokenFile, token.stdout.trim());
      const { proc, ready } = spawnProxy(name, {
        ...(process.env as Record<string, string>),
        LANYARD_PROXY_IDENTITY_ADDR: identity.addr,
        LANYARD_PROXY_TRUST_ANCHORS: o.anchorsFile ?? mesh.bundlePath,
        LANYARD_PROXY_LOCAL_IDENTITY: identityOf('default', name),
        LANYARD_PROXY_TOKEN_FILE: tokenFile,
        LANYARD_PROXY_INBOUND_ADDR: '127.0.0.1:0',
        LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:0',
        LANYARD_PROXY_ADMIN_ADDR: '127.0.0.1:0',
        LANYARD_PROXY_APP_PORT: '9',
        LANYARD_LOG_LEVEL: 'info',
        ...o.env,
      });
      proxies.push(proc);
      await ready;
      return proc;
    },
    async stop() {
      await Promise.all(proxies.map((p) => p.stop()));
      await identity.stop();
    },
  };
  return mesh;
}
