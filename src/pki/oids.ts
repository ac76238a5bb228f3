/** Object identifiers used by the PKI code, dotted. */
export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** The key types a workload may certify, by curve OID. */
export const CURVES: Record<string, { name: 'P-256' | 'P-384'; hash: 'sha256' | 'sha384'; sigOid: string }> = {
  [OID.prime256v1]: { name: 'P-256', hash: 'sha256', sigOid: OID.ecdsaWithSha256 },
  [OID.secp384r1]: { name: 'P-384', hash: 'sha384', sigOid: OID.ecdsaWithSha384 },
};

/** ECDSA signature algorithms accepted on CSRs, by OID. */
export const ECDSA_HASHES: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};
