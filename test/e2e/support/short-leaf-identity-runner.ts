/**
 * The identity service as `lanyard identity --validator dev` runs it, but with a leaf
 * lifetime below the CLI's 10-second floor: the rotation soak needs 5-second leaves (issue
 * 10) inside the control-plane namespace, and an operator must not be able to ask for them.
 * Same dev PKI, same dev token validator, same `identity service listening` line.
 *
 * Usage: node short-leaf-identity-runner.js ISSUER_DIR HOST:PORT ADMIN_HOST:ADMIN_PORT LIFETIME_MS
 */
import { join } from 'node:path';
import { ensureDevPki } from '../../../certs/dev-pki.js';
import { IdentityService } from '../../../src/identity/identity-service.js';
import { DEV_TOKEN_ISSUER } from '../../../src/identity/validators/dev-token.js';
import { JwksSource } from '../../../src/identity/validators/jwks-source.js';
import { JwksTokenValidator } from '../../../src/identity/validators/jwks-token-validator.js';
import { TokenCache } from '../../../src/identity/validators/token-cache.js';
import { createLogger } from '../../../src/telemetry/logger.js';

async function main(): Promise<void> {
  const [issuerDir, addr, adminAddr, lifetime] = process.argv.slice(2);
  const [host, port] = addr.split(':');
  const [adminHost, adminPort] = adminAddr.split(':');
  const logger = createLogger({ component: 'identity' });
  await ensureDevPki(issuerDir, { controlNamespace: 'lanyard' });
  const source = new JwksSource({ location: { file: join(issuerDir, 'token-signing.jwks.json') } });
  const validator = new JwksTokenValidator({ source, issuer: DEV_TOKEN_ISSUER, audience: 'identity.lanyard.io', kind: 'dev', cache: new TokenCache({ ttlMs: 60_000 }) });
  const service = new IdentityService({
    host,
    port: Number(port),
    adminHost,
    adminPort: Number(adminPort),
    issuerDir,
    controlNamespace: 'lanyard',
    lifetimeMs: Number(lifetime),
    validator,
    logger,
  });
  const running = await service.start();
  process.once('SIGTERM', () => void service.stop().then(() => process.exit(0)));
  logger.info({ addr: `${host}:${running.port}`, lifetime_ms: Number(lifetime), identity: service.servingIdentity }, 'identity service listening');
}

void main();
