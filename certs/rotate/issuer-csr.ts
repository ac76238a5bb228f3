/**
 * A certificate signing request for a new issuer, for an anchor whose key stays offline:
 * the issuer's key is made here (and written 0600), the CSR is signed where the anchor key
 * lives, and the certificate comes back to the same directory. The CSR asks for what
 * `lanyard certs create-issuer` would make: CA, path length 0, keyCertSign and cRLSign.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { Curve } from '../ca.js';

const ALG: Record<Curve, { name: 'ECDSA'; namedCurve: Curve; hash: string }> = {
  'P-256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  'P-384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
};

export interface IssuerCsr {
  csrPem: string;
  keyPem: string;
}

export async function createIssuerCsr(commonName: string, curve: Curve = 'P-256'): Promise<IssuerCsr> {
  const crypto = webcrypto as unknown as webcrypto.Crypto;
  const alg = ALG[curve];
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    crypto,
  );
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { csrPem: csr.toString('pem') + '\n', keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n' };
}

/** The openssl command that signs `csrPath` with the anchor, giving what create-issuer would (1 year). */
export function opensslSignCommand(csrPath: string, certPath: string): string {
  return [
    `openssl x509 -req -in ${csrPath} -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -sha256`,
    `-extfile <(printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\nkeyUsage=critical,keyCertSign,cRLSign\\nsubjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n')`,
    `-out ${certPath}`,
  ].join(' ');
}
