/**
 * The newcomer's path, with real processes: `lanyard identity` on the embedded default
 * creates a development PKI, prints how to get a token and a certificate, and those commands
 * work; the admin endpoints answer; SIGTERM stops it cleanly.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { lanyard, startLanyard } from '../support/cli.js';

test('dev PKI, token mint, certify, inspect, admin endpoints, clean shutdown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-cli-'));
  const pki = join(dir, 'pki');
  const svc = startLanyard(['identity', '--issuer-dir', pki, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  try {
    await svc.waitFor(/Get a token and a certificate/);
    expect(svc.stderr()).toMatch(/token mint --ns default --sa web/);
    expect(svc.stderr()).toMatch(/certify --ns default --sa web/);
    for (const f of ['issuer.key', 'ca.key', 'token-signing.key']) expect(statSync(join(pki, f)).mode & 0o777).toBe(0o600);
    const listening = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('identity service listening'))!) as { addr: string; admin: string };

    const mint = await lanyard(['token', 'mint', '--ns', 'default', '--sa', 'web', '--pki-dir', pki]);
    expect(mint.code).toBe(0);
    const token = mint.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'system:serviceaccount:default:web', aud: ['identity.lanyard.io'], 'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'web' } } });

    const tokenFile = join(dir, 'web.token');
    writeFileSync(tokenFile, token);
    const out = join(dir, 'web');
    const certify = await lanyard(['certify', '--ns', 'default', '--sa', 'web', '--token-file', tokenFile, '--out-dir', out, '--addr', listening.addr, '--trust-anchors', join(pki, 'ca.crt')]);
    expect(certify.stderr).toBe('');
    expect(certify.code).toBe(0);
    expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
    const leaf = new X509Certificate(readFileSync(join(out, 'tls.crt')));
    expect(leaf.subjectAltName).toBe('DNS:web.default.serviceaccount.identity.lanyard.cluster.local, URI:spiffe://cluster.local/ns/default/sa/web');

    const inspect = await lanyard(['certs', 'inspect', join(out, 'tls.crt'), '--bundle', join(pki, 'ca.crt')]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/Chain check against .*: OK/);

    const admin = `http://${listening.admin}`;
    expect((await fetch(`${admin}/live`)).status).toBe(200);
    expect((await fetch(`${admin}/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain('lanyard_identity_certify_requests_total{result="ok",reason="issued"} 1');
    expect(metrics).toMatch(/lanyard_identity_issuer_expiry_timestamp_seconds \d+/);

    // A second start reuses the PKI instead of creating a new one.
    expect(svc.stderr()).toMatch(/development PKI just created/);
    expect(await svc.stop('SIGTERM')).toBe(0);
    const again = startLanyard(['identity', '--issuer-dir', pki, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
    await again.waitFor(/Get a token and a certificate/);
    expect(again.stderr()).not.toMatch(/just created/);
    expect(await again.stop('SIGINT')).toBe(0);
  } finally {
    await svc.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad configuration stops start-up with exit 2 and a message naming the flag and its variable', async () => {
  const r = await lanyard(['identity', '--issuer-dir', join(tmpdir(), 'nope')], { LANYARD_IDENTITY_ADDR: 'localhost' });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^lanyard: --addr \(env LANYARD_IDENTITY_ADDR\): no port; expected a listen address host:port/);
  const v = await lanyard(['identity', '--validator', 'magic']);
  expect(v.code).toBe(2);
  expect(v.stderr).toMatch(/^lanyard: --validator \(env LANYARD_IDENTITY_VALIDATOR\): expected one of dev, jwks, kubernetes, got "magic"/);
  const l = await lanyard(['identity', '--lifetime', 'forever']);
  expect(l.stderr).toMatch(/^lanyard: --lifetime \(env LANYARD_IDENTITY_LIFETIME\): unexpected "forever"; expected a duration/);
  const short = await lanyard(['identity'], { LANYARD_IDENTITY_LIFETIME: '5s' });
  expect(short.stderr).toMatch(/^lanyard: --lifetime \(env LANYARD_IDENTITY_LIFETIME\): must be at least 10s, got "5s"/);
  const td = await lanyard(['identity', '--trust-domain', 'Bad_Domain']);
  expect({ code: td.code, stderr: td.stderr }).toEqual({ code: 2, stderr: 'lanyard: --trust-domain (env LANYARD_TRUST_DOMAIN): expected a DNS name of lower-case labels, got "Bad_Domain"\n' });
  const ns = await lanyard(['identity'], { LANYARD_CONTROL_NAMESPACE: 'Mesh' });
  expect({ code: ns.code, stderr: ns.stderr }).toEqual({ code: 2, stderr: 'lanyard: --control-namespace (env LANYARD_CONTROL_NAMESPACE): expected a DNS-1123 label, got "Mesh"\n' });
  expect(`${r.stderr}${v.stderr}${l.stderr}${short.stderr}`).not.toMatch(/^\s+at /m);
});
