/**
 * The env injection writes is a configuration the proxy accepts: the downward-API values
 * are filled in as the kubelet would (including `$(VAR)` expansion), the mounted paths are
 * made real files, and parseProxyConfig (what `lanyard proxy` runs at start-up) must take it
 * and derive the pod's identity from it.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProxyConfig, PROXY_ENV } from '../../../proxy/config.js';
import { injectConfigFrom } from '../../../src/inject/inject-config.js';
import { proxyContainer } from '../../../src/inject/sidecar-spec.js';
import { loadValues } from '../../../src/install/load-values.js';
import { createTestPki } from '../../support/test-ca.js';

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } };

/** The kubelet's part: fieldRefs from the pod, then $(NAME) from variables defined earlier. */
function kubeletEnv(vars: EnvVar[], pod: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    out[v.name] = v.valueFrom ? pod[v.valueFrom.fieldRef.fieldPath] : v.value!.replace(/\$\(([A-Z_]+)\)/g, (m, n: string) => out[n] ?? m);
  }
  return out;
}

test.each([
  ['defaults', [] as string[]],
  ['another trust domain and namespace', ['trustDomain=prod.example', 'controlNamespace=mesh', 'proxy.logLevel=debug']],
])('ok/%s: the proxy parses the injected env and knows who it is', async (_n, sets) => {
  const cfg = injectConfigFrom(loadValues('0.1.0', { sets }), null);
  const container = proxyContainer(cfg) as { env: EnvVar[] };
  const env = kubeletEnv(container.env, { 'metadata.namespace': 'shop', 'spec.serviceAccountName': 'web', 'metadata.name': 'web-7d9f', 'status.podIP': '10.1.2.3' });
  // The mounts, made real: the bundle and the token where the env says they are.
  const root = mkdtempSync(join(tmpdir(), 'lanyard-injected-env-'));
  const at = (p: string) => join(root, p);
  mkdirSync(at('/var/run/lanyard/trust-anchors'), { recursive: true });
  mkdirSync(at('/var/run/secrets/tokens'), { recursive: true });
  writeFileSync(at(env.LANYARD_PROXY_TRUST_ANCHORS), (await createTestPki()).anchor.certPem);
  writeFileSync(at(env.LANYARD_PROXY_TOKEN_FILE), 'token');
  const parsed = parseProxyConfig({ ...env, LANYARD_PROXY_TRUST_ANCHORS: at(env.LANYARD_PROXY_TRUST_ANCHORS), LANYARD_PROXY_TOKEN_FILE: at(env.LANYARD_PROXY_TOKEN_FILE) });
  const td = cfg.trustDomain;
  const ns = cfg.controlNamespace;
  expect(parsed).toMatchObject({
    localIdentity: `web.shop.serviceaccount.identity.${ns}.${td}`,
    identityName: `lanyard-identity.${ns}.serviceaccount.identity.${ns}.${td}`,
    identityAddr: `lanyard-identity.${ns}.svc.cluster.local:8080`,
    discoveryAddr: `lanyard-discovery.${ns}.svc.cluster.local:8086`,
    discoveryName: `lanyard-discovery.${ns}.serviceaccount.identity.${ns}.${td}`,
    transparent: true,
    trustAnchorsFile: at('/var/run/lanyard/trust-anchors/ca-bundle.crt'),
    identityDir: '/var/run/lanyard/identity',
    inbound: { host: '0.0.0.0', port: 4143 },
    outbound: { host: '127.0.0.1', port: 4140 },
    admin: { host: '0.0.0.0', port: 4191 },
    logLevel: cfg.logLevel,
  });
  // Every LANYARD_PROXY_* variable injection sets is one the proxy knows.
  for (const name of Object.keys(env).filter((n) => n.startsWith('LANYARD_PROXY_') || n === 'LANYARD_TRUST_DOMAIN')) expect(PROXY_ENV).toHaveProperty([name]);
});
