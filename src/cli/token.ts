/**
 * `lanyard token mint`: a development token, shaped like a Kubernetes projected
 * service-account token, for the embedded `dev` validator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { mintDevToken } from '../identity/validators/dev-token.js';
import { isDnsLabel } from '../pki/names.js';
import { outputOption, printResult, UsageError } from './cli-conventions.js';
import { durationOption, pathOption, textOption } from './cli-options.js';
import { defaultDevDir } from './paths.js';

interface MintOptions {
  ns: string;
  sa: string;
  ttl: number;
  audience: string;
  pkiDir: string;
  pod?: string;
  output: string;
}

const PKI_DIR_ENV = 'LANYARD_IDENTITY_ISSUER_DIR';

export function registerToken(program: Command): void {
  const token = program.command('token').description('development service-account tokens (for the embedded dev validator)');
  token
    .command('mint')
    .description('print a token shaped like a Kubernetes projected service-account token, signed with the dev key')
    .requiredOption('--ns <namespace>', 'namespace of the service account')
    .requiredOption('--sa <name>', 'service account name')
    .addOption(durationOption('--ttl <duration>', 'lifetime of the token', { default: '1h', min: 1000 }))
    .option('--pod <name>', 'bind the token to a pod name, as kubelet does')
    .addOption(textOption('--audience <aud>', 'audience', { env: 'LANYARD_IDENTITY_AUDIENCE', default: 'identity.lanyard.io' }))
    .addOption(pathOption('--pki-dir <dir>', 'directory holding token-signing.key', { env: PKI_DIR_ENV, default: defaultDevDir(), defaultDescription: 'certs/dev' }))
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Output: the token (text), or {token, claims} (json); the signing key is never printed.

Examples:
  lanyard token mint --ns default --sa web > /tmp/web.token
  lanyard token mint --ns default --sa web -o json | jq .claims`,
    )
    .action(async (o: MintOptions) => {
      if (!isDnsLabel(o.ns)) throw new UsageError(`--ns: ${JSON.stringify(o.ns)} is not a DNS-1123 label`);
      if (!isDnsLabel(o.sa)) throw new UsageError(`--sa: ${JSON.stringify(o.sa)} is not a DNS-1123 label`);
      const { keyPem, kid } = readDevSigningKey(o.pkiDir);
      const jwt = await mintDevToken({ keyPem, kid, namespace: o.ns, serviceAccount: o.sa, audience: o.audience, ttlMs: o.ttl, podName: o.pod });
      const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
      printResult(o.output, { token: jwt, kid, claims }, () => jwt);
    });
}

export function readDevSigningKey(dir: string): { keyPem: string; kid: string } {
  const keyPath = join(dir, 'token-signing.key');
  const jwksPath = join(dir, 'token-signing.jwks.json');
  let keyPem: string;
  let jwks: { keys?: { kid?: string }[] };
  try {
    keyPem = readFileSync(keyPath, 'utf8');
    jwks = JSON.parse(readFileSync(jwksPath, 'utf8')) as typeof jwks;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${(e as NodeJS.ErrnoException).path ?? 'a file'} does not exist` : (e as Error).message;
    throw new UsageError(`--pki-dir (env ${PKI_DIR_ENV}): no development token key in ${dir} (${why}); run \`npm start\` once to create the dev PKI`);
  }
  const kid = jwks.keys?.[0]?.kid;
  if (!kid) throw new UsageError(`--pki-dir (env ${PKI_DIR_ENV}): ${jwksPath} holds no key with a "kid"`);
  return { keyPem, kid };
}
