/** PEM <-> DER, strict about labels so a key is never mistaken for a certificate. */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** All PEM blocks in `text`, in order. Text outside blocks is ignored, as OpenSSL does. */
export function decodePem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    out.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

/** The DER of every `CERTIFICATE` block; fails if there is none. */
export function certificatesFromPem(text: string, what: string): Buffer[] {
  const certs = decodePem(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
  if (certs.length === 0) throw new Error(`${what}: no PEM CERTIFICATE block found`);
  return certs;
}

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
