/**
 * Property test of the CSR and DER parsers through the whole certificate authority: valid
 * requests, mutated (lengths, tags, extra, missing and duplicated elements, duplicated
 * attributes and extensions, point encodings, Common Names, truncation, trailing bytes),
 * usually re-signed with the request's key so that only the structure decides.
 *
 * Invariants:
 * - every refusal is a coded ERR_CSR_* error with a short message (never an exception);
 * - every request we accept was canonical DER with exactly the expected SPKI shape;
 * - every leaf we issue is exactly our profile: Node and @peculiar/x509 parse it, its SANs
 *   are the identity and SPIFFE ID, its key is the request's key (uncompressed), its
 *   extensions exactly the six we choose; and openssl parses and verifies it;
 * - mutations that must be refused are, and benign ones are accepted.
 *
 * `npm test` runs a few hundred cases; LANYARD_FUZZ_RUNS=100000 runs longer (README,
 * "Fuzzing the CSR parser"); LANYARD_FUZZ_SEED replays a failure fast-check reported.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as x509 from '@peculiar/x509';
import { CertificateAuthority } from '../../../src/identity/certificate-authority.js';
import { classify } from '../../../src/identity/errors.js';
import type { Issuer } from '../../../src/identity/issuer-store.js';
import * as der from '../../../src/pki/der.js';
import { encodePem } from '../../../src/pki/pem.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { TrustDomain } from '../../../src/pki/names.js';
import { OID } from '../../../src/pki/oids.js';
import { createTestPki, type TestPki } from '../../support/test-ca.js';
import { TokenAuthority } from '../../support/token-authority.js';
import { CsrForge, dnsName, oid, uriName, type CsrParts } from '../../support/csr-forge.js';
import { allNodes, cloneDer, encodeDer, isCanonicalDer, openOctetString, parseDer, type DerNode } from '../../support/der-tree.js';
import { TokenCache } from '../../../src/identity/validators/token-cache.js';

const RUNS = Number(process.env.LANYARD_FUZZ_RUNS ?? 300);
const SEED = process.env.LANYARD_FUZZ_SEED ? Number(process.env.LANYARD_FUZZ_SEED) : undefined;

const td = new TrustDomain();
const WEB = td.identity({ namespace: 'default', serviceAccount: 'web' });
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/web';
const LEAF_EXTENSIONS = [
  [OID.keyUsage, true],
  [OID.extKeyUsage, false],
  [OID.basicConstraints, true],
  [OID.authorityKeyIdentifier, false],
  [OID.subjectKeyIdentifier, false],
  [OID.subjectAltName, true],
];

let pki: TestPki;
let ca: CertificateAuthority;
let token: Buffer;
let forges: CsrForge[];

beforeAll(async () => {
  pki = await createTestPki();
  const tokens = await TokenAuthority.create();
  const signer = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
  const issuer: Issuer = {
    certificate: pki.issuerCert,
    signer,
    chain: [pki.issuerCert.raw],
    bundle: TrustBundle.fromPem(pki.anchor.certPem),
    notBefore: signer.issuer.notBefore,
    notAfter: signer.issuer.notAfter,
    fingerprint: pki.issuerCert.fingerprint256,
  };
  // The token is verified once and then cached: this test is about the CSR.
  ca = new CertificateAuthority({ trustDomain: td, issuers: { current: () => issuer, unavailableReason: () => '' }, validator: tokens.validator({ cache: new TokenCache() }) });
  token = Buffer.from(await tokens.mint('default', 'web'));
  forges = [new CsrForge(WEB), new CsrForge(WEB), new CsrForge(WEB), new CsrForge(WEB, 'P-384')];
});

// ---- semantic mutations: applied to the request's parts before it is encoded ----

type Semantic = { name: string; verdict: 'refuse' | 'accept'; apply: (f: CsrForge, p: CsrParts) => CsrParts };

/** Which part of the request a semantic mutation rewrites (a later one on the same part wins). */
function partOf(m: Semantic, f: CsrForge): keyof CsrParts {
  const before = f.defaults();
  const after = m.apply(f, before);
  return (Object.keys(after) as (keyof CsrParts)[]).find((k) => after[k] !== before[k])!;
}

const san = (f: CsrForge, names: Buffer[] = [dnsName(f.identity)]) => f.sanExtension(der.seq(...names));
const withExtensions = (f: CsrForge, p: CsrParts, exts: Buffer[]) => ({ ...p, attributes: f.attributes(f.extensionRequest(exts)) });
const cnStrings: [string, number][] = [
  ['utf8', der.TAG.UTF8_STRING],
  ['printable', der.TAG.PRINTABLE_STRING],
  ['ia5', der.TAG.IA5_STRING],
];

const SEMANTIC: Semantic[] = [
  { name: 'point-compressed', verdict: 'accept', apply: (f, p) => ({ ...p, spki: f.spki(f.compressedPoint) }) },
  { name: 'point-hybrid', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(f.hybridPoint) }) },
  { name: 'point-infinity', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(Buffer.from([0])) }) },
  { name: 'point-extra-byte', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(Buffer.concat([f.point, Buffer.from([1])])) }) },
  { name: 'point-truncated', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(f.point.subarray(0, f.point.length - 1)) }) },
  { name: 'point-compressed-wrong-parity', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(Buffer.concat([Buffer.from([f.compressedPoint[0] ^ 1]), f.compressedPoint.subarray(1)])) }) },
  { name: 'spki-unused-bits', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(f.point, { unusedBits: 4 }) }) },
  { name: 'spki-extra', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(f.point, { extra: [der.NULL] }) }) },
  { name: 'spki-algorithm-extra', verdict: 'refuse', apply: (f, p) => ({ ...p, spki: f.spki(f.point, { algorithm: f.algorithmId(der.NULL) }) }) },
  ...cnStrings.map(([n, tag]): Semantic => ({ name: `cn-identity-${n}`, verdict: 'accept', apply: (f, p) => ({ ...p, subject: f.name(f.rdn(OID.commonName, der.tlv(tag, Buffer.from(f.identity)))) }) })),
  { name: 'cn-other', verdict: 'refuse', apply: (f, p) => ({ ...p, subject: f.name(f.rdn(OID.commonName, der.utf8String('admin'))) }) },
  { name: 'cn-t61', verdict: 'refuse', apply: (f, p) => ({ ...p, subject: f.name(f.rdn(OID.commonName, der.tlv(der.TAG.T61_STRING, Buffer.from(f.identity)))) }) },
  { name: 'san-critical', verdict: 'accept', apply: (f, p) => withExtensions(f, p, [f.sanExtension(undefined, der.TRUE)]) },
  { name: 'san-extra-dns', verdict: 'refuse', apply: (f, p) => withExtensions(f, p, [san(f, [dnsName(f.identity), dnsName('evil.example.com')])]) },
  { name: 'san-extra-uri', verdict: 'refuse', apply: (f, p) => withExtensions(f, p, [san(f, [dnsName(f.identity), uriName('spiffe://cluster.local/ns/kube-system/sa/admin')])]) },
  { name: 'san-trailing', verdict: 'refuse', apply: (f, p) => withExtensions(f, p, [f.sanExtension(Buffer.concat([der.seq(dnsName(f.identity)), der.seq(dnsName('evil.example.com'))]))]) },
  { name: 'san-duplicate', verdict: 'refuse', apply: (f, p) => withExtensions(f, p, [san(f, [dnsName('evil.example.com')]), san(f)]) },
  { name: 'ext-request-twice', verdict: 'refuse', apply: (f, p) => ({ ...p, attributes: f.attributes(f.extensionRequest([san(f, [dnsName('evil.example.com')])]), f.extensionRequest([san(f)])) }) },
  { name: 'ext-request-two-values', verdict: 'refuse', apply: (f, p) => ({ ...p, attributes: f.attributes(f.extensionRequest([san(f, [dnsName('evil.example.com')])], [san(f)])) }) },
  { name: 'ext-unknown', verdict: 'accept', apply: (f, p) => withExtensions(f, p, [san(f), f.extension('1.3.6.1.4.1.99999.7', der.utf8String('x'), der.TRUE)]) },
  { name: 'ext-ca-true-requested', verdict: 'accept', apply: (f, p) => withExtensions(f, p, [san(f), f.extension(OID.basicConstraints, der.seq(der.TRUE), der.TRUE)]) },
  { name: 'ext-duplicate-unknown', verdict: 'refuse', apply: (f, p) => withExtensions(f, p, [san(f), f.extension('1.3.6.1.4.1.99999.7', der.NULL), f.extension('1.3.6.1.4.1.99999.7', der.NULL)]) },
  { name: 'attribute-other', verdict: 'accept', apply: (f, p) => ({ ...p, attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set(der.utf8String('pw'))), f.extensionRequest([san(f)])) }) },
  { name: 'sigalg-null-params', verdict: 'refuse', apply: (f, p) => ({ ...p, signatureAlgorithm: der.seq(oid(f.curve === 'P-256' ? OID.ecdsaWithSha256 : OID.ecdsaWithSha384), der.NULL) }) },
  { name: 'version-2', verdict: 'refuse', apply: (_f, p) => ({ ...p, version: der.smallInteger(2) }) },
];

/**
 * A request with parts the parser reads but does not use (an O= attribute, a
 * challengePassword, an unknown extension with a nested value), so that mutations land
 * there too: what we ignore must still be DER.
 */
function richParts(f: CsrForge): CsrParts {
  const unknown = f.extension('1.3.6.1.4.1.99999.9', der.seq(der.smallInteger(7), der.seq(der.octetString(Buffer.from('nested')), der.NULL)));
  return {
    ...f.defaults(),
    subject: f.name(f.rdn('2.5.4.10', der.utf8String('lanyard-test')), f.rdn(OID.commonName, der.utf8String(f.identity))),
    attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set(der.seq(der.utf8String('pw'), der.smallInteger(1)))), f.extensionRequest([san(f), unknown])),
  };
}

// ---- structural mutations of the CertificationRequestInfo tree (then re-signed) ----

type TreeOp =
  | { op: 'insert'; at: number; pos: number; tag: number; bytes: Uint8Array }
  | { op: 'remove' | 'duplicate'; at: number; pos: number }
  | { op: 'retag'; at: number; tag: number }
  | { op: 'content'; at: number; bytes: Uint8Array }
  | { op: 'cut-content'; at: number; n: number }
  | { op: 'long-length'; at: number; extra: number };

const treeOp: fc.Arbitrary<TreeOp> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), pos: fc.nat(), tag: fc.constantFrom(0x04, 0x05, 0x02, 0x06, 0x0c, 0x30, 0x31, 0x82, 0x86, 0xa0), bytes: fc.uint8Array({ maxLength: 24 }) }),
  fc.record({ op: fc.constantFrom('remove' as const, 'duplicate' as const), at: fc.nat(), pos: fc.nat() }),
  fc.record({ op: fc.constant('retag' as const), at: fc.nat(), tag: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('content' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 24 }) }),
  fc.record({ op: fc.constant('cut-content' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('long-length' as const), at: fc.nat(), extra: fc.integer({ min: 0, max: 2 }) }) },
);

function applyTreeOp(root: DerNode, t: TreeOp): void {
  const nodes = allNodes(root);
  const node = nodes[t.at % nodes.length];
  switch (t.op) {
    case 'insert':
    case 'remove':
    case 'duplicate': {
      const kids = node.children;
      if (!kids) return;
      if (t.op === 'insert') {
        const child: DerNode = t.tag & 0x20 ? { tag: t.tag, children: [] } : { tag: t.tag, content: Buffer.from(t.bytes) };
        kids.splice(t.pos % (kids.length + 1), 0, child);
      } else if (kids.length) {
        const i = t.pos % kids.length;
        if (t.op === 'remove') kids.splice(i, 1);
        else kids.splice(i, 0, cloneDer(kids[i]));
      }
      return;
    }
    case 'retag':
      // Keep the constructed bit, or the node would need re-shaping: the reader sees what we wrote.
      node.tag = (t.tag & ~0x20) | (node.tag & 0x20);
      if ((node.tag & 0x1f) === 0x1f) node.tag ^= 0x01;
      return;
    case 'content':
      if (!node.children) {
        node.wrapped = undefined;
        node.content = Buffer.from(t.bytes);
      }
      return;
    case 'cut-content':
      if (node.content) node.content = node.content.subarray(0, Math.max(0, node.content.length - t.n));
      return;
    case 'long-length': {
      // A longer length form than needed: valid BER, never DER.
      const enc = encodeDer({ ...node, lengthBytes: undefined });
      const len = enc.length - (enc[1] & 0x80 ? 2 + (enc[1] & 0x7f) : 2);
      const bytes: number[] = [];
      for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
      const zeros = t.extra || (len >= 0x80 || len === 0 ? 1 : 0);
      for (let i = 0; i < zeros; i++) bytes.unshift(0);
      node.lengthBytes = [0x80 | bytes.length, ...bytes];
      return;
    }
  }
}

/** Opens the extension values inside the extensionRequest so tree mutations reach the SAN. */
function openExtensionValues(info: DerNode): void {
  const extReq = der.encodeOid(OID.extensionRequest);
  const attrs = info.children?.find((c) => c.tag === 0xa0);
  for (const attr of attrs?.children ?? []) {
    if (!attr.children?.[0] || !encodeDer(attr.children[0]).equals(extReq)) continue;
    for (const value of attr.children[1]?.children ?? []) {
      for (const ext of value.children ?? []) {
        const last = ext.children?.[ext.children.length - 1];
        if (last) openOctetString(last);
      }
    }
  }
}

// ---- byte mutations of the final request ----

type ByteOp = { op: 'truncate'; n: number } | { op: 'trail'; bytes: Uint8Array } | { op: 'flip'; at: number; bit: number };
const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), n: fc.integer({ min: 1, max: 120 }) }),
  fc.record({ op: fc.constant('trail' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
);

function applyByteOp(b: Buffer, t: ByteOp): Buffer {
  if (t.op === 'truncate') return b.subarray(0, Math.max(0, b.length - t.n));
  if (t.op === 'trail') return Buffer.concat([b, t.bytes]);
  const c = Buffer.from(b);
  c[t.at % c.length] ^= 1 << t.bit;
  return c;
}

const scenario = fc.record({
  forge: fc.nat(),
  rich: fc.boolean(),
  semantic: fc.array(fc.nat({ max: SEMANTIC.length - 1 }), { maxLength: 2 }),
  tree: fc.oneof({ weight: 2, arbitrary: fc.constant([] as TreeOp[]) }, { weight: 3, arbitrary: fc.array(treeOp, { minLength: 1, maxLength: 3 }) }),
  bytes: fc.oneof({ weight: 5, arbitrary: fc.constant([] as ByteOp[]) }, { weight: 1, arbitrary: fc.array(byteOp, { minLength: 1, maxLength: 2 }) }),
});

interface Built {
  csr: Buffer;
  forge: CsrForge;
  expect: 'refuse' | 'accept' | 'either';
}

interface Scenario {
  forge: number;
  rich: boolean;
  semantic: number[];
  tree: TreeOp[];
  bytes: ByteOp[];
}

function build(s: Scenario): Built {
  const forge = forges[s.forge % forges.length];
  let parts = s.rich ? richParts(forge) : forge.defaults();
  const verdicts = new Map<keyof CsrParts, Semantic['verdict']>();
  for (const m of s.semantic.map((i) => SEMANTIC[i])) {
    parts = m.apply(forge, parts);
    verdicts.set(partOf(m, forge), m.verdict);
  }
  const infoTree = parseDer(forge.info(parts));
  openExtensionValues(infoTree);
  for (const t of s.tree) applyTreeOp(infoTree, t);
  let csr = forge.signInfo(encodeDer(infoTree), parts);
  for (const t of s.bytes) csr = applyByteOp(csr, t);
  // Only when nothing generic touched the request do we know the verdict in advance.
  const generic = s.tree.length > 0 || s.bytes.length > 0;
  const verdict = generic ? 'either' : [...verdicts.values()].includes('refuse') ? 'refuse' : 'accept';
  return { csr, forge, expect: verdict };
}

/** The SPKI of an accepted request is exactly SEQUENCE { SEQUENCE { ecPublicKey, curve }, BIT STRING }. */
function spkiShapeIsExact(csr: Buffer): boolean {
  const spki = parseDer(csr).children![0].children![2];
  const [alg, bits] = spki.children ?? [];
  return (
    spki.children?.length === 2 &&
    alg.tag === 0x30 &&
    alg.children?.length === 2 &&
    encodeDer(alg.children[0]).equals(der.encodeOid(OID.ecPublicKey)) &&
    alg.children[1].tag === 0x06 &&
    bits.tag === 0x03 &&
    bits.content?.[0] === 0
  );
}

function checkLeaf(leafDer: Buffer, forge: CsrForge): void {
  expect(leafDer.length).toBeLessThan(900); // no room for smuggled bytes
  const leaf = new X509Certificate(leafDer);
  expect(leaf.verify(pki.issuerCert.publicKey)).toBe(true);
  expect(leaf.subject ?? '').toBe('');
  expect(leaf.subjectAltName).toBe(`DNS:${WEB}, URI:${SPIFFE}`);
  expect(leaf.ca).toBe(false);
  const want = forge.publicKey.export({ format: 'der', type: 'spki' });
  expect(leaf.publicKey.export({ format: 'der', type: 'spki' })).toEqual(want);
  const pc = new x509.X509Certificate(leafDer);
  expect(Buffer.from(pc.publicKey.rawData)).toEqual(want);
  expect(pc.extensions.map((e) => [e.type, e.critical])).toEqual(LEAF_EXTENSIONS);
  expect(isCanonicalDer(leafDer)).toBe(true);
}

test(`mutated CSRs: refusals are coded, and every issued leaf is exactly our profile (${RUNS} runs)`, async () => {
  const leaves: Buffer[] = [];
  const seen = { accepted: 0, refused: 0, codes: new Map<string, number>() };
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const b = build(s);
      const outcome = await ca.certify({ identity: WEB, token, certificate_signing_request: b.csr }).then(
        (res) => ({ ok: true as const, res }),
        (err: unknown) => ({ ok: false as const, err }),
      );
      if (outcome.ok) {
        seen.accepted++;
        expect(b.expect).not.toBe('refuse');
        expect(isCanonicalDer(b.csr, (root) => openExtensionValues(root.children![0]))).toBe(true);
        expect(spkiShapeIsExact(b.csr)).toBe(true);
        checkLeaf(outcome.res.leaf, b.forge);
        if (leaves.length < 2000) leaves.push(outcome.res.leaf);
      } else {
        seen.refused++;
        const c = classify(outcome.err);
        expect(outcome.err).toBeInstanceOf(Error);
        expect(c.code).toMatch(/^ERR_CSR_|^ERR_REQUEST_MALFORMED$/);
        expect(c.message.length).toBeLessThan(500);
        expect(b.expect).not.toBe('accept');
        seen.codes.set(c.code, (seen.codes.get(c.code) ?? 0) + 1);
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  // The run must have exercised both sides, or it proves nothing.
  expect(seen.accepted).toBeGreaterThan(RUNS / 20);
  expect(seen.refused).toBeGreaterThan(RUNS / 4);
  opensslAccepts(leaves);
  if (RUNS > 1000) process.stdout.write(`csr fuzz: ${RUNS} runs, ${seen.accepted} issued, refused ${JSON.stringify(Object.fromEntries(seen.codes))}\n`);
}, 30_000 + RUNS * 20);

/** openssl parses every issued leaf and verifies it to the anchor (batched: one process per 200). */
function opensslAccepts(leaves: Buffer[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'csr-fuzz-'));
  try {
    writeFileSync(join(dir, 'anchor.pem'), pki.anchor.certPem);
    writeFileSync(join(dir, 'issuer.pem'), pki.issuer.certPem);
    const files = leaves.map((l, i) => {
      const f = join(dir, `leaf-${i}.pem`);
      writeFileSync(f, encodePem('CERTIFICATE', l));
      return f;
    });
    for (let i = 0; i < files.length; i += 200) {
      const batch = files.slice(i, i + 200);
      const out = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'anchor.pem'), '-untrusted', join(dir, 'issuer.pem'), ...batch], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(batch.map((f) => `${f}: OK`));
    }
    for (const f of files.slice(0, 20)) {
      const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', f], { encoding: 'utf8' });
      expect(text).toContain(`DNS:${WEB}, URI:${SPIFFE}`);
      expect(text).toMatch(/CA:FALSE/);
      expect(text).toMatch(/Public-Key: \((256|384) bit\)/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
