/**
 * `lanyard certs inspect`: what is in a certificate, chain, CSR or key file, as data. The
 * report is the `--json` output as-is; inspect-text.ts renders it for people.
 *
 * A private key is described (type, size, which certificate in the file it belongs to) and
 * never reproduced: operators paste inspect output into tickets and chats.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { SocketAddress } from 'node:net';
import * as x509 from '@peculiar/x509';
import { parseCertificate } from '../src/pki/certificate.js';
import { decodePem } from '../src/pki/pem.js';
import { TrustBundle } from '../src/pki/trust-bundle.js';
import { validityStatus } from './bundle.js';
import { CertsError } from './errors.js';
import { isoTime } from './format.js';
import { isEncryptedPem, isPem, readInput } from './pem-files.js';
import { describeKey, isSelfSigned, issuerOf, publicKeySha256, readCertFacts, subjectOf, type KeyDescription } from './x509-facts.js';

export interface SubjectAltNameReport {
  dns: string[];
  /** URI SANs, SPIFFE IDs included. */
  uri: string[];
  ip: string[];
  email: string[];
}

export interface CertificateReport {
  /** 1-based position in the file. */
  index: number;
  subject: string;
  issuer: string;
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  sans: SubjectAltNameReport;
  /** The first `spiffe://` URI SAN, or null. */
  spiffeId: string | null;
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'expired' | 'not-yet-valid';
  /** NotAfter minus now, in seconds; negative once expired. */
  secondsRemaining: number;
  publicKey: KeyDescription & { sha256: string };
  signatureAlgorithm: string;
  isCa: boolean;
  /** null: no limit (or not a CA). */
  pathLength: number | null;
  selfSigned: boolean;
  /** null when the extension is absent. */
  keyUsage: string[] | null;
  extendedKeyUsage: string[] | null;
  fingerprintSha256: string;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
}

export interface KeyReport {
  index: number;
  kind: 'private' | 'public';
  encrypted: boolean;
  /** null for an encrypted key, whose type cannot be read without the passphrase. */
  key: (KeyDescription & { sha256: string }) | null;
  /** 1-based index of the certificate in the same file holding this key's public half. */
  matchesCertificate: number | null;
}

export interface CsrReport {
  index: number;
  subject: string;
  sans: SubjectAltNameReport;
  publicKey: (KeyDescription & { sha256: string }) | null;
  signatureAlgorithm: string;
  /** Whether the self-signature verifies; null when the algorithm cannot be checked. */
  signatureValid: boolean | null;
}

export interface ChainReport {
  bundle: string;
  ok: boolean;
  /** The anchor the chain ends at, when ok. */
  anchor: { subject: string; fingerprintSha256: string } | null;
  /** TrustBundle's exact reason, when not ok. */
  error: string | null;
}

export interface InspectReport {
  file: string;
  format: 'PEM' | 'DER';
  inspectedAt: string;
  certificates: CertificateReport[];
  keys: KeyReport[];
  csrs: CsrReport[];
  /** PEM blocks of other kinds (e.g. `EC PARAMETERS`), listed so nothing passes unseen. */
  ignoredBlocks: string[];
  chain: ChainReport | null;
  /** Why the exit code is non-zero: expired or not-yet-valid certificates, a failed chain, a bad CSR signature. */
  problems: string[];
  ok: boolean;
}

export interface InspectOptions {
  /** Chain-check the certificates against this bundle (`path` is for the report). */
  bundle?: { path: string; trust: TrustBundle };
  /** The clock. Default: the system clock. */
  now?: Date;
}

export async function inspectFile(path: string, opts: { bundlePath?: string; now?: Date } = {}): Promise<InspectReport> {
  const data = readInput(path, 'FILE');
  let bundle: InspectOptions['bundle'];
  if (opts.bundlePath !== undefined) {
    const text = readInput(opts.bundlePath, '--bundle').toString('latin1');
    try {
      bundle = { path: opts.bundlePath, trust: TrustBundle.fromPem(text, `--bundle ${opts.bundlePath}`) };
    } catch (e) {
      throw new CertsError('ERR_CERTS_INPUT', (e as Error).message.startsWith('--bundle') ? (e as Error).message : `--bundle ${opts.bundlePath}: ${(e as Error).message}`);
    }
  }
  return inspectBytes(data, path, { bundle, now: opts.now });
}

interface Parsed {
  certs: X509Certificate[];
  keys: { kind: 'private' | 'public'; key: KeyObject | null }[];
  csrs: x509.Pkcs10CertificateRequest[];
  ignored: string[];
}

export async function inspectBytes(data: Buffer, file: string, opts: InspectOptions = {}): Promise<InspectReport> {
  const now = opts.now ?? new Date();
  const parsed = isPem(data) ? parsePemItems(data.toString('latin1'), file) : parseDerItem(data, file);
  if (!parsed.certs.length && !parsed.keys.length && !parsed.csrs.length) {
    const found = parsed.ignored.length ? ` (found only ${parsed.ignored.join(', ')})` : '';
    throw new CertsError('ERR_CERTS_INPUT', `FILE: ${file} holds no certificate, CSR or key${found}`);
  }
  const certificates = parsed.certs.map((c, i) => certificateReport(c, i + 1, now));
  const keys = parsed.keys.map((k, i) => keyReport(k, i + 1, certificates));
  const csrs = await Promise.all(parsed.csrs.map((c, i) => csrReport(c, i + 1)));
  const problems: string[] = [];
  for (const c of certificates) {
    if (c.status === 'expired') problems.push(`certificate ${c.index} (${c.subject}) expired at ${c.notAfter}`);
    if (c.status === 'not-yet-valid') problems.push(`certificate ${c.index} (${c.subject}) is not valid before ${c.notBefore}`);
  }
  for (const c of csrs) if (c.signatureValid === false) problems.push(`CSR ${c.index}: its self-signature does not verify`);
  let chain: ChainReport | null = null;
  if (opts.bundle) {
    if (!parsed.certs.length) throw new CertsError('ERR_CERTS_OPTION', `--bundle: ${file} holds no certificate to chain-check`);
    chain = checkChain(parsed.certs, opts.bundle, now);
    if (!chain.ok) problems.push(`chain check against ${chain.bundle} failed: ${chain.error}`);
  }
  return {
    file,
    format: isPem(data) ? 'PEM' : 'DER',
    inspectedAt: isoTime(now),
    certificates,
    keys,
    csrs,
    ignoredBlocks: parsed.ignored,
    chain,
    problems,
    ok: problems.length === 0,
  };
}

function checkChain(certs: X509Certificate[], bundle: NonNullable<InspectOptions['bundle']>, now: Date): ChainReport {
  try {
    const { anchor } = bundle.trust.verify(certs, now);
    return { bundle: bundle.path, ok: true, anchor: { subject: subjectOf(anchor), fingerprintSha256: anchor.fingerprint256 }, error: null };
  } catch (e) {
    return { bundle: bundle.path, ok: false, anchor: null, error: (e as Error).message };
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function parsePemItems(text: string, file: string): Parsed {
  const out: Parsed = { certs: [], keys: [], csrs: [], ignored: [] };
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [block, label] = m;
    const der = decodePem(block)[0]?.der;
    const bad = (what: string) => new CertsError('ERR_CERTS_INPUT', `FILE: the ${label} block in ${file} is not a valid ${what}`);
    if (label === 'CERTIFICATE') {
      out.certs.push(attempt(() => new X509Certificate(der ?? Buffer.alloc(0)), bad('X.509 certificate')));
    } else if (label === 'CERTIFICATE REQUEST' || label === 'NEW CERTIFICATE REQUEST') {
      out.csrs.push(attempt(() => new x509.Pkcs10CertificateRequest(der ?? Buffer.alloc(0)), bad('PKCS#10 request')));
    } else if (label.endsWith('PRIVATE KEY')) {
      // Encrypted keys are reported as such; their type is inside the encryption.
      out.keys.push({ kind: 'private', key: isEncryptedPem(block) ? null : attempt(() => createPrivateKey(block), bad('private key')) });
    } else if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY') {
      out.keys.push({ kind: 'public', key: attempt(() => createPublicKey(block), bad('public key')) });
    } else {
      out.ignored.push(label);
    }
  }
  return out;
}

function parseDerItem(data: Buffer, file: string): Parsed {
  const out: Parsed = { certs: [], keys: [], csrs: [], ignored: [] };
  const tries: (() => void)[] = [
    () => out.certs.push(new X509Certificate(data)),
    () => out.csrs.push(new x509.Pkcs10CertificateRequest(data)),
    ...(['pkcs8', 'sec1', 'pkcs1'] as const).map((type) => () => out.keys.push({ kind: 'private', key: createPrivateKey({ key: data, format: 'der', type }) })),
    () => out.keys.push({ kind: 'public', key: createPublicKey({ key: data, format: 'der', type: 'spki' }) }),
  ];
  for (const t of tries) {
    try {
      t();
      return out;
    } catch {
      // not this kind; try the next
    }
  }
  throw new CertsError('ERR_CERTS_INPUT', `FILE: ${file} is neither PEM nor a DER certificate, CSR or key`);
}

function attempt<T>(f: () => T, err: Error): T {
  try {
    return f();
  } catch {
    throw err;
  }
}

function certificateReport(c: X509Certificate, index: number, now: Date): CertificateReport {
  const facts = readCertFacts(c);
  const sans = certificateSans(c);
  return {
    index,
    subject: subjectOf(c),
    issuer: issuerOf(c),
    serialNumber: c.serialNumber.toUpperCase(),
    sans,
    spiffeId: sans.uri.find((u) => u.startsWith('spiffe://')) ?? null,
    notBefore: isoTime(c.validFrom),
    notAfter: isoTime(c.validTo),
    status: validityStatus(c, now),
    secondsRemaining: Math.floor((Date.parse(c.validTo) - now.getTime()) / 1000),
    publicKey: { ...describeKey(c.publicKey), sha256: publicKeySha256(c.publicKey) },
    signatureAlgorithm: facts.signatureAlgorithm,
    isCa: c.ca,
    pathLength: facts.pathLength,
    selfSigned: isSelfSigned(c),
    keyUsage: facts.keyUsage,
    extendedKeyUsage: facts.extendedKeyUsage,
    fingerprintSha256: c.fingerprint256,
    subjectKeyId: facts.subjectKeyId,
    authorityKeyId: facts.authorityKeyId,
  };
}

function certificateSans(c: X509Certificate): SubjectAltNameReport {
  try {
    const { dns, uri, ip, email } = parseCertificate(c.raw).sans;
    return { dns, uri, ip: ip.map(canonicalIp), email };
  } catch {
    return { dns: [], uri: [], ip: [], email: [] };
  }
}

/** `0000:...:0001` as `::1`; the PKI decoder spells IPv6 out in full. */
function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new SocketAddress({ address: ip, family: 'ipv6' }).address;
  } catch {
    return ip;
  }
}

function keyReport(k: Parsed['keys'][number], index: number, certs: CertificateReport[]): KeyReport {
  if (!k.key) return { index, kind: k.kind, encrypted: true, key: null, matchesCertificate: null };
  const sha256 = publicKeySha256(k.kind === 'private' ? createPublicKey(k.key) : k.key);
  const match = certs.find((c) => c.publicKey.sha256 === sha256);
  return { index, kind: k.kind, encrypted: false, key: { ...describeKey(k.key), sha256 }, matchesCertificate: match?.index ?? null };
}

async function csrReport(csr: x509.Pkcs10CertificateRequest, index: number): Promise<CsrReport> {
  let publicKey: CsrReport['publicKey'] = null;
  try {
    const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
    publicKey = { ...describeKey(key), sha256: publicKeySha256(key) };
  } catch {
    publicKey = null;
  }
  let signatureValid: boolean | null;
  try {
    signatureValid = await csr.verify();
  } catch {
    signatureValid = null;
  }
  let alg = 'unknown';
  try {
    const a = csr.signatureAlgorithm as { name: string; hash?: { name: string } };
    alg = a.hash ? `${a.name} with ${a.hash.name}` : a.name;
  } catch {
    alg = 'unknown';
  }
  return { index, subject: csr.subject || '(empty subject)', sans: csrSans(csr), publicKey, signatureAlgorithm: alg, signatureValid };
}

function csrSans(csr: x509.Pkcs10CertificateRequest): SubjectAltNameReport {
  const out: SubjectAltNameReport = { dns: [], uri: [], ip: [], email: [] };
  try {
    const ext = csr.extensions.find((e) => e.type === '2.5.29.17');
    if (!ext) return out;
    const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const n of san.names.items) {
      if (n.type === 'dns') out.dns.push(n.value);
      else if (n.type === 'url') out.uri.push(n.value);
      else if (n.type === 'ip') out.ip.push(canonicalIp(n.value));
      else if (n.type === 'email') out.email.push(n.value);
    }
  } catch {
    // an undecodable SAN is shown as none; the identity service would refuse the CSR anyway
  }
  return out;
}
