/**
 * `lanyard certify`: one Certify call from the command line, the way a proxy makes it —
 * a fresh P-256 key, a CSR for the identity, the token — writing the result as a TLS
 * secret would hold it. Handy for trying the service and for debugging an installation.
 *
 * It is a client, so it reads the proxy's (client-side) variables: LANYARD_PROXY_IDENTITY_ADDR,
 * LANYARD_PROXY_TRUST_ANCHORS, LANYARD_PROXY_IDENTITY_NAME. LANYARD_IDENTITY_ADDR is where
 * the service listens, which is not where a client dials (`0.0.0.0:8080`, `:8080`).
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildCsr } from '../pki/csr.js';
import { encodePem } from '../pki/pem.js';
import { fromTimestamp } from '../proto/index.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { CertifyClient, CertifyError } from '../../proxy/identity/certify-client.js';
import { checkWritable, writePublic, writeSecret } from '../../certs/files.js';
import { OperationError, outputOption, printResult, UsageError } from './cli-conventions.js';
import { addressOption, durationOption, pathOption, readOptionFile, textOption, trustDomainFrom, trustDomainOption } from './cli-options.js';
import { defaultDevDir } from './paths.js';

interface CertifyOptions {
  ns: string;
  sa: string;
  tokenFile: string;
  addr: HostPort;
  trustAnchors: string;
  trustDomain: string;
  controlNamespace: string;
  identityName?: string;
  outDir: string;
  force?: boolean;
  timeout: number;
  output: string;
}

export interface CertifyResult {
  identity: string;
  spiffeId: string | null;
  serial: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
  files: { key: string; certificate: string; trustAnchors: string };
}

export function registerCertify(program: Command): void {
  program
    .command('certify')
    .description('request a workload certificate from the identity service, as a proxy does, and write tls.key, tls.crt and ca.crt')
    .requiredOption('--ns <namespace>', 'namespace of the service account')
    .requiredOption('--sa <name>', 'service account name')
    .addOption(pathOption('--token-file <file>', 'service-account token to present').makeOptionMandatory())
    .addOption(pathOption('--out-dir <dir>', 'where to write tls.key (0600), tls.crt (leaf + chain) and ca.crt').makeOptionMandatory())
    .addOption(addressOption('--addr <host:port>', 'identity service address', 'dial', { env: 'LANYARD_PROXY_IDENTITY_ADDR', default: '127.0.0.1:8080' }))
    .addOption(
      pathOption('--trust-anchors <file>', 'trust bundle to verify the identity service with', {
        env: 'LANYARD_PROXY_TRUST_ANCHORS',
        default: join(defaultDevDir(), 'ca.crt'),
        defaultDescription: 'certs/dev/ca.crt',
      }),
    )
    .addOption(trustDomainOption())
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace', { env: 'LANYARD_CONTROL_NAMESPACE', default: 'lanyard' }))
    .addOption(textOption('--identity-name <name>', "the identity service's expected identity (default lanyard-identity.<control-ns>...)", { env: 'LANYARD_PROXY_IDENTITY_NAME' }))
    .addOption(durationOption('--timeout <duration>', 'deadline of the Certify call', { default: '10s', min: 1 }))
    .option('--force', 'overwrite existing files')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  lanyard certify --ns default --sa web --token-file /tmp/web.token --out-dir /tmp/web\n')
    .action(async (o: CertifyOptions) => runCertify(o));
}

async function runCertify(o: CertifyOptions): Promise<void> {
  const td = trustDomainFrom(o.trustDomain, o.controlNamespace);
  const identity = td.identity({ namespace: o.ns, serviceAccount: o.sa });
  if (!td.parse(identity)) throw new UsageError(`--ns/--sa: ${o.ns}/${o.sa} is not a valid service account (DNS-1123 labels)`);
  const out = resolve(o.outDir);
  const files = { key: join(out, 'tls.key'), certificate: join(out, 'tls.crt'), trustAnchors: join(out, 'ca.crt') };
  checkWritable(Object.values(files), o.force);
  const anchorsPem = readOptionFile('--trust-anchors', 'LANYARD_PROXY_TRUST_ANCHORS', o.trustAnchors);
  const token = readOptionFile('--token-file', undefined, o.tokenFile).trim();
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const address = formatAddress(o.addr);
  const client = new CertifyClient({
    address,
    serverName: o.identityName ?? td.identity({ namespace: o.controlNamespace, serviceAccount: 'lanyard-identity' }),
    trustAnchorsPem: anchorsPem,
    timeoutMs: o.timeout,
  });
  try {
    let res;
    try {
      res = await client.certify(identity, token, buildCsr(identity, kp.privateKey, kp.publicKey));
    } catch (e) {
      if (e instanceof CertifyError) throw new OperationError(`${address}: ${e.message}`);
      throw e;
    }
    const chain = [res.leaf_certificate, ...res.intermediate_certificates].map((d) => encodePem('CERTIFICATE', d)).join('');
    writeSecret(files.key, kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), o.force);
    writePublic(files.certificate, chain, o.force);
    writePublic(files.trustAnchors, anchorsPem, o.force);
    const leaf = new X509Certificate(res.leaf_certificate);
    const result: CertifyResult = {
      identity,
      spiffeId: /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1] ?? null,
      serial: leaf.serialNumber,
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: fromTimestamp(res.valid_until!).toISOString(),
      fingerprintSha256: leaf.fingerprint256,
      files,
    };
    printResult(o.output, result, () =>
      [
        `certified ${identity}`,
        `  SANs        ${leaf.subjectAltName}`,
        `  serial      ${leaf.serialNumber}`,
        `  valid until ${result.notAfter}`,
        `  wrote       ${Object.values(files).join(', ')}`,
      ].join('\n'),
    );
  } finally {
    client.close();
  }
}
