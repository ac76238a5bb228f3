/**
 * Runs a real identity service in-process on loopback (ephemeral ports) with a fresh test
 * PKI and token authority, and a real TLS gRPC client pointed at it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityService, type IdentityServiceConfig } from '../../src/identity/identity-service.js';
import { CertifyClient } from '../../proxy/identity/certify-client.js';
import { createTestPki, writeIssuerDir, type TestPki } from './test-ca.js';
import { LogSink } from './log-sink.js';
import { TokenAuthority } from './token-authority.js';
import type { TokenValidator } from '../../src/identity/token-validator.js';

export interface IdentityHarness {
  service: IdentityService;
  port: number;
  adminPort: number;
  dir: string;
  issuerDir: string;
  pki: TestPki;
  tokens: TokenAuthority;
  logs: LogSink;
  client(opts?: { serverName?: string; anchorsPem?: string }): CertifyClient;
  stop(): Promise<void>;
}

export interface HarnessOptions extends Partial<IdentityServiceConfig> {
  pki?: TestPki;
  /** Build the validator from the harness's token authority (default: its dev-style validator). */
  validatorFor?: (tokens: TokenAuthority) => TokenValidator;
  /** Start with an empty issuer directory (default false). */
  withoutIssuer?: boolean;
}

export async function startIdentity(overrides: HarnessOptions = {}): Promise<IdentityHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-identity-'));
  const issuerDir = join(dir, 'issuer');
  const pki = overrides.pki ?? (await createTestPki());
  if (overrides.withoutIssuer) mkdirSync(issuerDir, { recursive: true });
  else writeIssuerDir(issuerDir, pki);
  const tokens = await TokenAuthority.create();
  const logs = new LogSink();
  const service = new IdentityService({
    port: 0,
    adminPort: 0,
    issuerDir,
    logger: logs.logger('identity'),
    ...overrides,
    validator: overrides.validator ?? overrides.validatorFor?.(tokens) ?? tokens.validator(),
  });
  const running = await service.start();
  const clients: CertifyClient[] = [];
  return {
    service,
    port: running.port,
    adminPort: running.admin.port,
    dir,
    issuerDir,
    pki,
    tokens,
    logs,
    client(opts = {}) {
      const c = new CertifyClient({
        address: `127.0.0.1:${running.port}`,
        serverName: opts.serverName ?? service.servingIdentity,
        trustAnchorsPem: opts.anchorsPem ?? pki.anchor.certPem,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
