/**
 * Where the new issuer comes from, in order: brought by the operator, found in --out-dir,
 * created from the anchor key, or a CSR to sign elsewhere; keys 0600, nothing overwritten
 * without --force, and a missing issuer said with what to pass.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peekNewIssuer, resolveNewIssuer, type NewIssuerSource } from '../../../certs/rotate/new-issuer.js';
import { anchorsFromMetrics } from '../../../certs/rotate/observe.js';
import { anchor, inTempDir, issuer } from './certs-fixtures.js';

const base = (o: Partial<NewIssuerSource>): NewIssuerSource => ({ commonName: 'identity.lanyard.cluster.local', curve: 'P-256', validityMs: 30 * 86_400_000, ...o });
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('created from the anchor key into --out-dir, then found there again (the same issuer)', () =>
  inTempDir(async (dir) => {
    const a = await anchor();
    writeFileSync(join(dir, 'ca.crt'), a.certPem);
    writeFileSync(join(dir, 'ca.key'), a.keyPem, { mode: 0o600 });
    const src = base({ outDir: join(dir, 'next'), caCertPath: join(dir, 'ca.crt'), caKeyPath: join(dir, 'ca.key') });
    expect(peekNewIssuer(src)).toBeNull();
    const made = await resolveNewIssuer(src);
    if (made.status !== 'ready') throw new Error(made.reason);
    expect({ origin: made.origin, key: mode(join(dir, 'next', 'issuer.key')), created: made.created.map((f) => f.contents) }).toEqual({ origin: expect.stringMatching(/^created in .*next, signed by/), key: '600', created: ['certificate', 'private key'] });
    const again = await resolveNewIssuer(src);
    expect(again.status === 'ready' && { fp: again.cert.fingerprint256, origin: again.origin }).toEqual({ fp: made.cert.fingerprint256, origin: expect.stringMatching(/^found in /) });
    expect(peekNewIssuer(src)?.fingerprint256).toBe(made.cert.fingerprint256);
  }));

test('brought by the operator: cert and key must match and go together', () =>
  inTempDir(async (dir) => {
    const a = await anchor();
    const i = await issuer(a);
    const other = await issuer(a, 'other');
    writeFileSync(join(dir, 'i.crt'), i.certPem);
    writeFileSync(join(dir, 'i.key'), i.keyPem);
    writeFileSync(join(dir, 'o.key'), other.keyPem);
    const got = await resolveNewIssuer(base({ certPath: join(dir, 'i.crt'), keyPath: join(dir, 'i.key') }));
    expect(got.status === 'ready' && got.cert.fingerprint256).toBe(i.cert.fingerprint256);
    await expect(resolveNewIssuer(base({ certPath: join(dir, 'i.crt'), keyPath: join(dir, 'o.key') }))).rejects.toMatchObject({ code: 'ERR_CERTS_INPUT', message: expect.stringMatching(/is not the private key of/) });
    await expect(resolveNewIssuer(base({ certPath: join(dir, 'i.crt') }))).rejects.toMatchObject({ code: 'ERR_CERTS_OPTION' });
  }));

test('--csr writes a key (0600) and a CSR, then waits for the certificate; the CSR asks for a CA of path length 0', () =>
  inTempDir(async (dir) => {
    const src = base({ outDir: join(dir, 'next'), csr: true });
    const first = await resolveNewIssuer(src);
    expect(first).toMatchObject({ status: 'missing', reason: expect.stringMatching(/^waiting for .*issuer\.crt: sign .*issuer\.csr with the anchor .*openssl x509 -req/) });
    expect({ key: mode(join(dir, 'next', 'issuer.key')), csr: readFileSync(join(dir, 'next', 'issuer.csr'), 'utf8') }).toEqual({ key: '600', csr: expect.stringMatching(/^-----BEGIN CERTIFICATE REQUEST-----/) });
    const keyBefore = readFileSync(join(dir, 'next', 'issuer.key'), 'utf8');
    expect((await resolveNewIssuer(src)).status).toBe('missing');
    expect(readFileSync(join(dir, 'next', 'issuer.key'), 'utf8')).toBe(keyBefore); // the key is kept, never remade
    const { inspectFile } = await import('../../../certs/inspect.js');
    const csr = (await inspectFile(join(dir, 'next', 'issuer.csr'))).csrs[0];
    expect({ subject: csr.subject, valid: csr.signatureValid }).toEqual({ subject: 'CN=identity.lanyard.cluster.local', valid: true });
  }));

test('nothing to go on: says what to pass', async () => {
  expect(await resolveNewIssuer(base({}))).toMatchObject({ status: 'missing', reason: expect.stringMatching(/--new-issuer-cert and --new-issuer-key, or --out-dir with --ca-key \(or --csr\)/) });
  await inTempDir(async (dir) => {
    expect(await resolveNewIssuer(base({ outDir: dir }))).toMatchObject({ status: 'missing', reason: expect.stringMatching(/pass --ca-key .* --csr .* or --new-issuer-cert/) });
    expect(existsSync(join(dir, 'issuer.key'))).toBe(false);
  });
});

test('the anchors an identity service has loaded, from its /metrics', () => {
  const text = [
    '# HELP lanyard_identity_trust_anchor_expiry_timestamp_seconds x',
    'lanyard_identity_trust_anchor_expiry_timestamp_seconds{fingerprint="AA:BB",subject="CN=a"} 1',
    'lanyard_identity_trust_anchor_expiry_timestamp_seconds{fingerprint="CC:DD",subject="CN=b"} 2',
    'lanyard_identity_issuer_expiry_timestamp_seconds 3',
  ].join('\n');
  expect(anchorsFromMetrics(text)).toEqual(['AA:BB', 'CC:DD']);
});
