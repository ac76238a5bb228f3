/**
 * Reading certificates and private keys that an operator points an option at. PEM or DER
 * are both accepted, because `kubectl get secret -o jsonpath` and `openssl ... -outform der`
 * both turn up in practice; errors name the option and the file, and say what was found
 * instead (a key where a certificate belongs is the most common mix-up).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodePem, encodePem } from '../src/pki/pem.js';
import { CertsError } from './errors.js';

const PEM_BEGIN = '-----BEGIN ';
const KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

/** The file's bytes, or a CertsError saying why `what` (an option name) could not be read. */
export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} does not exist`);
    if (code === 'EISDIR') throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} is a directory, expected a file`);
    if (code === 'EACCES') throw new CertsError('ERR_CERTS_INPUT', `${what}: cannot read ${path} (permission denied)`);
    throw new CertsError('ERR_CERTS_INPUT', `${what}: cannot read ${path} (${code ?? (e as Error).message})`);
  }
}

/** True when the bytes look like PEM text rather than DER. */
export function isPem(data: Uint8Array): boolean {
  return Buffer.from(data).includes(PEM_BEGIN);
}

/** Every certificate in a PEM file (in order), or the single certificate of a DER file. */
export function parseCertificates(data: Buffer, path: string, what: string): X509Certificate[] {
  if (!isPem(data)) {
    try {
      return [new X509Certificate(data)];
    } catch {
      throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} is neither PEM nor a DER certificate`);
    }
  }
  const blocks = decodePem(data.toString('latin1'));
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) {
    const found = blocks.length ? `found ${blocks.map((b) => b.label).join(', ')}` : 'found no PEM block';
    throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} holds no CERTIFICATE (${found})`);
  }
  return certs.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch {
      throw new CertsError('ERR_CERTS_INPUT', `${what}: certificate ${i + 1} in ${path} is not a valid X.509 certificate`);
    }
  });
}

export function loadCertificates(path: string, what: string): X509Certificate[] {
  return parseCertificates(readInput(path, what), path, what);
}

/**
 * The one private key in `path` (PKCS#8, SEC1 or PKCS#1; PEM or DER). Encrypted keys are
 * refused with the openssl command that decrypts them: the tooling never asks for a
 * passphrase, so it can run unattended.
 */
export function loadPrivateKey(path: string, what: string): KeyObject {
  const data = readInput(path, what);
  if (!isPem(data)) return privateKeyFromDer(data, path, what);
  const text = data.toString('latin1');
  if (isEncryptedPem(text)) {
    throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} is an encrypted key; decrypt it first (openssl pkey -in ${path} -out plain.key)`);
  }
  const blocks = decodePem(text);
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (keys.length === 0) {
    const found = blocks.length ? `found ${blocks.map((b) => b.label).join(', ')}` : 'found no PEM block';
    throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} holds no private key (${found})`);
  }
  if (keys.length > 1) throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} holds ${keys.length} private keys, expected one`);
  try {
    return createPrivateKey(encodePem(keys[0].label, keys[0].der));
  } catch {
    throw new CertsError('ERR_CERTS_INPUT', `${what}: the ${keys[0].label} in ${path} cannot be parsed`);
  }
}

/** PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy OpenSSL key with a `Proc-Type: 4,ENCRYPTED` header. */
export function isEncryptedPem(text: string): boolean {
  return text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(text);
}

function privateKeyFromDer(data: Buffer, path: string, what: string): KeyObject {
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: data, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  throw new CertsError('ERR_CERTS_INPUT', `${what}: ${path} is neither PEM nor a DER private key`);
}
