/**
 * `lanyard token mint`: a development token, shaped like a Kubernetes projected
 * service-account token, for the embedded `dev` validator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { mintDevToken } from '../identity/validators/dev-token.js';
import { isDnsLabel } from '../pki/names.js';
import { defaultDevDir } from './paths.js';
import { envOption } from './env.js';
import { parseDuration } from './parse.js';

interface MintOptions {
  ns: string;
  sa: string;
  ttl: string;
  audience: string;
  pkiDir: string;
  pod?: string;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('Development service-account tokens (for the embedded dev validator).');
  token
    .command('mint')
    .description('Print a token shaped like a Kubernetes projected service-account token, signed with the dev key.')
    .requiredOption('--ns <namespace>', 'namespace of the service account')
    .requiredOption('--sa <name>', 'service account name')
    .option('--ttl <duration>', 'lifetime of the token', '1h')
    .option('--pod <name>', 'bind the token to a pod name, as kubelet does')
    .addOption(envOption('--audience <aud>', 'audience', 'LANYARD_IDENTITY_AUDIENCE', 'identity.lanyard.io'))
    .addOption(envOption('--pki-dir <dir>', 'directory holding token-signing.key', 'LANYARD_IDENTITY_ISSUER_DIR', defaultDevDir()))
    .addHelpText('after', '\nExample:\n  lanyard token mint --ns default --sa web > /tmp/web.token\n')
    .action(async (o: MintOptions) => {
      if (!isDnsLabel(o.ns)) throw new Error(`--ns: ${JSON.stringify(o.ns)} is not a DNS-1123 label`);
      if (!isDnsLabel(o.sa)) throw new Error(`--sa: ${JSON.stringify(o.sa)} is not a DNS-1123 label`);
      const ttlMs = parseDuration(o.ttl, '--ttl');
      const { keyPem, kid } = readDevSigningKey(o.pkiDir);
      const jwt = await mintDevToken({ keyPem, kid, namespace: o.ns, serviceAccount: o.sa, audience: o.audience, ttlMs, podName: o.pod });
      process.stdout.write(jwt + '\n');
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
    throw new Error(`no development token key in ${dir} (${(e as Error).message}); run \`npm start\` once to create the dev PKI`);
  }
  const kid = jwks.keys?.[0]?.kid;
  if (!kid) throw new Error(`${jwksPath}: no key with a "kid"`);
  return { keyPem, kid };
}
