/** The human-readable rendering of an InspectReport (`lanyard certs inspect` without `--json`). */
import { describeRemaining } from './format.js';
import type { CertificateReport, CsrReport, InspectReport, KeyReport, SubjectAltNameReport } from './inspect.js';
import { keyLabel } from './x509-facts.js';

export function formatInspectReport(r: InspectReport): string {
  const now = new Date(r.inspectedAt);
  const counts = [
    plural(r.certificates.length, 'certificate'),
    plural(r.keys.filter((k) => k.kind === 'private').length, 'private key'),
    plural(r.keys.filter((k) => k.kind === 'public').length, 'public key'),
    plural(r.csrs.length, 'CSR'),
  ].filter(Boolean);
  const out: string[] = [`${r.file}: ${counts.join(', ')} (${r.format})`];
  for (const c of r.certificates) out.push('', ...certificateLines(c, r.certificates.length, now));
  for (const k of r.keys) out.push('', ...keyLines(k));
  for (const c of r.csrs) out.push('', ...csrLines(c));
  if (r.ignoredBlocks.length) out.push('', `Ignored PEM blocks: ${r.ignoredBlocks.join(', ')}`);
  if (r.chain) {
    out.push('');
    out.push(
      r.chain.ok
        ? `Chain check against ${r.chain.bundle}: OK (anchor ${r.chain.anchor?.subject}, SHA-256 ${r.chain.anchor?.fingerprintSha256})`
        : `Chain check against ${r.chain.bundle}: FAILED: ${r.chain.error}`,
    );
  }
  if (r.problems.length) out.push('', ...r.problems.map((p) => `PROBLEM: ${p}`));
  return out.join('\n') + '\n';
}

function certificateLines(c: CertificateReport, total: number, now: Date): string[] {
  const ca = c.isCa ? `yes, path length ${c.pathLength ?? 'unlimited'}` : 'no';
  return table(`Certificate ${c.index} of ${total}`, [
    ['Subject', c.subject],
    ['Issuer', c.issuer + (c.selfSigned ? ' (self-signed)' : '')],
    ['Serial', c.serialNumber],
    ...sanRows(c.sans),
    ['Not before', c.notBefore],
    ['Not after', `${c.notAfter} (${describeRemaining(c.notBefore, c.notAfter, now)})`],
    ['Public key', keyLabel(c.publicKey)],
    ['Signature', c.signatureAlgorithm],
    ['CA', ca],
    ['Key usage', c.keyUsage ? c.keyUsage.join(', ') || '(none)' : '(absent)'],
    ['Ext key usage', c.extendedKeyUsage ? c.extendedKeyUsage.join(', ') : '(absent)'],
    ['SHA-256', c.fingerprintSha256],
    ['Subject key ID', c.subjectKeyId ?? '(absent)'],
    ['Authority key ID', c.authorityKeyId ?? '(absent)'],
  ]);
}

function keyLines(k: KeyReport): string[] {
  const title = `${k.kind === 'private' ? 'Private' : 'Public'} key ${k.index}`;
  if (!k.key) return table(title, [['Type', 'encrypted (type unknown without the passphrase)']]);
  const rows: [string, string][] = [
    ['Type', keyLabel(k.key) + (k.key.bits ? ` (${k.key.bits} bits)` : '')],
    ['Public key SHA-256', k.key.sha256],
  ];
  if (k.matchesCertificate !== null) rows.push(['Matches', `certificate ${k.matchesCertificate}`]);
  return table(title, rows);
}

function csrLines(c: CsrReport): string[] {
  const sig = c.signatureValid === null ? 'not checked (unsupported algorithm)' : c.signatureValid ? 'valid' : 'INVALID';
  return table(`CSR ${c.index}`, [
    ['Subject', c.subject],
    ...sanRows(c.sans),
    ['Public key', c.publicKey ? keyLabel(c.publicKey) : 'unreadable'],
    ['Signature', `${c.signatureAlgorithm}, ${sig}`],
  ]);
}

function sanRows(s: SubjectAltNameReport): [string, string][] {
  const rows: [string, string][] = [];
  if (s.dns.length) rows.push(['DNS SANs', s.dns.join(', ')]);
  if (s.uri.length) rows.push(['URI SANs', s.uri.map((u) => (u.startsWith('spiffe://') ? `${u} (SPIFFE)` : u)).join(', ')]);
  if (s.ip.length) rows.push(['IP SANs', s.ip.join(', ')]);
  if (s.email.length) rows.push(['Email SANs', s.email.join(', ')]);
  if (!rows.length) rows.push(['SANs', '(none)']);
  return rows;
}

function table(title: string, rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return [title, ...rows.map(([k, v]) => `  ${(k + ':').padEnd(width + 1)}${v}`)];
}

function plural(n: number, noun: string): string {
  return n === 0 ? '' : `${n} ${noun}${n === 1 ? '' : 's'}`;
}
