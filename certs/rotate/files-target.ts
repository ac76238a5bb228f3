/**
 * A rotation on local files: the identity service's issuer directory and the trust-bundle
 * file its proxies and it read. Every write is atomic (temporary file, then rename), the
 * key 0600, so the identity service and the proxies, which watch and poll these files,
 * never read half a file. The key is written before the certificate: a reload between the
 * two sees a key that does not match, refuses it once and keeps signing with the old issuer
 * until the certificate follows.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBundle, findIssuerPair, ISSUER_PAIRS } from '../../src/check/pki-files.js';
import { readBundleFile, writeBundleFile } from '../bundle.js';
import { CertsError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { RotationTarget, TargetChange, TargetSnapshot } from './rotation-target.js';

export interface FilesTargetConfig {
  issuerDir: string;
  /** The bundle file; default: the issuer directory's ca.crt (or ca-bundle.crt). */
  bundlePath?: string;
}

export class FilesTarget implements RotationTarget {
  readonly description: string;
  private readonly bundlePath: string;

  constructor(private readonly cfg: FilesTargetConfig) {
    if (!existsSync(cfg.issuerDir)) throw new CertsError('ERR_CERTS_INPUT', `--issuer-dir: ${cfg.issuerDir} does not exist`);
    if (existsSync(join(cfg.issuerDir, '..data'))) {
      throw new CertsError('ERR_CERTS_OPTION', `--issuer-dir: ${cfg.issuerDir} is a Kubernetes volume (it has ..data): rotate the Secret and ConfigMap with --kubernetes instead`);
    }
    const bundle = cfg.bundlePath ?? findBundle(undefined, cfg.issuerDir);
    if (!bundle) throw new CertsError('ERR_CERTS_OPTION', `--trust-anchors: no bundle in ${cfg.issuerDir} (ca.crt or ca-bundle.crt); name the bundle file`);
    this.bundlePath = bundle;
    this.description = `issuer directory ${cfg.issuerDir}, bundle ${bundle}`;
  }

  async read(): Promise<TargetSnapshot> {
    const pair = findIssuerPair(this.cfg.issuerDir);
    return { bundle: readBundleFile(this.bundlePath), issuerCertPem: pair ? readFileSync(pair.certPath, 'utf8') : null };
  }

  async updateBundle(change: (anchors: X509Certificate[]) => X509Certificate[] | null): Promise<TargetChange> {
    const next = change(readBundleFile(this.bundlePath));
    if (next) writeBundleFile(this.bundlePath, next);
    return { changed: next !== null, conflicts: 0 };
  }

  async installIssuer(certPem: string, keyPem: string): Promise<TargetChange> {
    const pair = findIssuerPair(this.cfg.issuerDir) ?? { certPath: join(this.cfg.issuerDir, ISSUER_PAIRS[0][0]), keyPath: join(this.cfg.issuerDir, ISSUER_PAIRS[0][1]) };
    const current = existsSync(pair.certPath) ? new X509Certificate(readFileSync(pair.certPath)) : null;
    if (current?.fingerprint256 === new X509Certificate(certPem).fingerprint256) return { changed: false, conflicts: 0 };
    writeFileAtomic(pair.keyPath, keyPem, { force: true, mode: 0o600 });
    writeFileAtomic(pair.certPath, certPem, { force: true, mode: 0o644 });
    return { changed: true, conflicts: 0 };
  }
}
