/**
 * Where a rotation's two objects live, the issuer and the trust bundle: local files
 * (files-target.ts) or the cluster's Secret and ConfigMap (cluster-target.ts). A change is
 * given as a function of the current value, so a target that can lose a race (the API
 * server's resourceVersion) works it out again on the fresh value.
 */
import type { X509Certificate } from 'node:crypto';

export interface TargetSnapshot {
  bundle: X509Certificate[];
  /** The issuer certificate file's text (issuer first), or null when there is none. */
  issuerCertPem: string | null;
}

export interface TargetChange {
  changed: boolean;
  /** Writes refused because someone else changed the object first (and redone). */
  conflicts: number;
}

export interface RotationTarget {
  /** `issuer directory pki/issuer, bundle pki/ca.crt`, `Secret lanyard/lanyard-identity-issuer, ConfigMap ...`. */
  readonly description: string;
  read(): Promise<TargetSnapshot>;
  /** Replaces the bundle with `change(current)`; null from `change` means it already is as wanted. */
  updateBundle(change: (anchors: X509Certificate[]) => X509Certificate[] | null): Promise<TargetChange>;
  /** Installs the issuer (certificate chain and key, PEM) unless it already is the current one. */
  installIssuer(certPem: string, keyPem: string): Promise<TargetChange>;
}
