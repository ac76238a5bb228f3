/**
 * What makes the injector's serving certificate acceptable to the API server, as a pure
 * check for `lanyard check`: it names `lanyard-injector.<ns>.svc`, is valid now (and for how
 * long), and chains to the trust bundle that is the webhook's caBundle. Returns the problems
 * found; an empty list means the API server will accept it.
 */
import type { X509Certificate } from 'node:crypto';
import { TrustBundle } from '../pki/trust-bundle.js';
import { injectorServiceName } from './mesh-names.js';

export interface WebhookCertificateReport {
  problems: string[];
  /** Milliseconds until the leaf expires (negative once it has). */
  remainingMs: number;
}

export function checkWebhookCertificate(chain: readonly X509Certificate[], caBundlePem: string, controlNamespace: string, now: Date): WebhookCertificateReport {
  const problems: string[] = [];
  const leaf = chain[0];
  if (!leaf) return { problems: ['the webhook presented no certificate'], remainingMs: -1 };
  const want = injectorServiceName(controlNamespace);
  const names = (leaf.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  if (!names.includes(want)) problems.push(`the certificate does not name ${want} (it names ${names.join(', ') || 'nothing'})`);
  try {
    TrustBundle.fromPem(caBundlePem, 'caBundle').verify([...chain], now);
  } catch (e) {
    problems.push(`the certificate does not verify against the webhook's caBundle: ${(e as Error).message}`);
  }
  return { problems, remainingMs: Date.parse(leaf.validTo) - now.getTime() };
}
