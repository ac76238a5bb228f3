/**
 * `lanyard certify`: one Certify call from the command line, the way a proxy makes it —
 * a fresh P-256 key, a CSR for the identity, the token — writing the result as a TLS
 * secret would hold it. Handy for trying the service and for debugging an installation.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildCsr } from '../pki/csr.js';
import { TrustDomain } from '../pki/names.js';
import { encodePem } from '../pki/pem.js';
import { fromTimestamp } from '../proto/index.js';
import { CertifyClient } from '../../proxy/identity/certify-client.js';
import { checkWritable, writePublic, writeSecret } from '../../certs/files.js';
import { defaultDevDir } from './paths.js';
import { envOption } from './env.js';
import { parseHostPort } from './parse.js';

interface CertifyOptions {
  ns: string;
  sa: string;
  tokenFile: string;
  addr: string;
  trustAnchors: string;
  trustDomain: string;
  controlNamespace: string;
  identityName?: string;
  outDir: string;
  force: boolean;
}

export function registerCertify(program: Command): void {
  program
    .command('certify')
    .description('Request a workload certificate from the identity service, as a proxy does, and write tls.key/tls.crt/ca.crt.')
    .requiredOption('--ns <namespace>', 'namespace of the service account')
    .requiredOption('--sa <name>', 'service account name')
    .requiredOption('--token-file <file>', 'service-account token to present')
    .requiredOption('--out-dir <dir>', 'where to write tls.key (0600), tls.crt (leaf + chain) and ca.crt')
    .addOption(envOption('--addr <host:port>', 'identity service address', 'LANYARD_IDENTITY_ADDR', '127.0.0.1:8080'))
    .addOption(envOption('--trust-anchors <file>', 'trust bundle to verify the identity service with', 'LANYARD_PROXY_TRUST_ANCHORS', join(defaultDevDir(), 'ca.crt')))
    .addOption(envOption('--trust-domain <domain>', 'trust domain', 'LANYARD_TRUST_DOMAIN', 'cluster.local'))
    .addOption(envOption('--control-namespace <ns>', 'control-plane namespace', 'LANYARD_CONTROL_NAMESPACE', 'lanyard'))
    .addOption(envOption('--identity-name <name>', "the identity service's expected identity (default lanyard-identity.<control-ns>...)", 'LANYARD_PROXY_IDENTITY_NAME'))
    .option('--force', 'overwrite existing files', false)
    .addHelpText('after', '\nExample:\n  lanyard certify --ns default --sa web --token-file /tmp/web.token --out-dir /tmp/web\n')
    .action(async (o: CertifyOptions) => {
      const td = new TrustDomain(o.trustDomain, o.controlNamespace);
      const ref = { namespace: o.ns, serviceAccount: o.sa };
      const identity = td.identity(ref);
      if (!td.parse(identity)) throw new Error(`--ns/--sa: ${o.ns}/${o.sa} is not a valid service account (DNS-1123 labels)`);
      parseHostPort(o.addr, '--addr (or LANYARD_IDENTITY_ADDR)');
      const out = resolve(o.outDir);
      const files = ['tls.key', 'tls.crt', 'ca.crt'].map((f) => join(out, f));
      checkWritable(files, o.force);
      const anchorsPem = readFileSync(o.trustAnchors, 'utf8');
      const token = readFileSync(o.tokenFile, 'utf8').trim();
      const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const client = new CertifyClient({
        address: o.addr,
        serverName: o.identityName ?? td.identity({ namespace: o.controlNamespace, serviceAccount: 'lanyard-identity' }),
        trustAnchorsPem: anchorsPem,
      });
      try {
        const res = await client.certify(identity, token, buildCsr(identity, kp.privateKey, kp.publicKey));
        const chain = [res.leaf_certificate, ...res.intermediate_certificates].map((d) => encodePem('CERTIFICATE', d)).join('');
        writeSecret(files[0], kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), o.force);
        writePublic(files[1], chain, o.force);
        writePublic(files[2], anchorsPem, o.force);
        const leaf = new X509Certificate(res.leaf_certificate);
        process.stdout.write(
          `certified ${identity}\n  SANs       ${leaf.subjectAltName}\n  serial     ${leaf.serialNumber}\n  valid until ${fromTimestamp(res.valid_until!).toISOString()}\n  wrote      ${files.join(', ')}\n`,
        );
      } finally {
        client.close();
      }
    });
}
