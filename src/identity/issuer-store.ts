/**
 * Loads the issuer (certificate + key) and trust bundle from directories, and keeps them
 * current: it reloads on a filesystem event **and** on a poll, so a Kubernetes Secret
 * volume's `..data` symlink swap (which some watchers never report) is never missed.
 * A new issuer that fails any check is refused, logged and counted, and the last good
 * one keeps signing.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import { certificatesFromPem } from '../pki/pem.js';
import { LeafSigner } from '../pki/leaf-signer.js';
import { TrustBundle, describe } from '../pki/trust-bundle.js';
import { PkiError } from '../pki/errors.js';
import { Counter, Gauge, type Registry } from '../telemetry/metrics.js';

export interface Issuer {
  certificate: X509Certificate;
  signer: LeafSigner;
  /** DER chain returned to clients: the issuer and any intermediates, anchor excluded. */
  chain: Buffer[];
  bundle: TrustBundle;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint of the issuer certificate. */
  fingerprint: string;
}

export interface IssuerStoreConfig {
  /** Holds `tls.crt`+`tls.key`, `crt.pem`+`key.pem` or `issuer.crt`+`issuer.key`. */
  issuerDir: string;
  /** A bundle file, or a directory with `ca.crt` or `ca-bundle.crt`. Default: `issuerDir`. */
  trustAnchors?: string;
  /** Poll period. Default 10s. */
  pollIntervalMs?: number;
  logger: Logger;
  registry?: Registry;
  clock?: () => number;
}

const PAIRS: [string, string][] = [
  ['tls.crt', 'tls.key'],
  ['crt.pem', 'key.pem'],
  ['issuer.crt', 'issuer.key'],
];
const BUNDLES = ['ca.crt', 'ca-bundle.crt'];

interface Material {
  certPem: string;
  keyPem: string;
  bundlePem: string;
  digest: string;
}

export class IssuerStore {
  private issuer: Issuer | null = null;
  private loadedDigest = '';
  private failedDigest = '';
  private lastError = 'not loaded yet';
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private pending = false;
  private readonly reloads?: Counter<'result'>;
  private readonly listeners = new Set<(issuer: Issuer) => void>();

  constructor(private readonly cfg: IssuerStoreConfig) {
    if (cfg.registry) {
      this.reloads = new Counter({
        name: 'lanyard_identity_issuer_reloads_total',
        help: 'Issuer reload attempts that found changed files, by result (ok, refused: unfit issuer, error: unreadable files).',
        labelNames: ['result'],
        registers: [cfg.registry],
      });
      const store = this;
      new Gauge({
        name: 'lanyard_identity_issuer_expiry_timestamp_seconds',
        help: 'NotAfter of the issuer currently signing, as a Unix timestamp.',
        registers: [cfg.registry],
        aggregator: 'min', // across --workers: the earliest expiry is the one to alert on
        collect() {
          if (store.issuer) this.set(store.issuer.notAfter.getTime() / 1000);
        },
      });
      // Linkerd's identity controller's name and meaning (negative once expired), so alerts
      // written for Linkerd work unchanged.
      new Gauge({
        name: 'issuer_cert_ttl_seconds',
        help: 'The remaining seconds until the issuer certificate expires.',
        registers: [cfg.registry],
        aggregator: 'min',
        collect() {
          if (store.issuer) this.set((store.issuer.notAfter.getTime() - store.now()) / 1000);
        },
      });
      new Gauge({
        name: 'lanyard_identity_trust_anchor_expiry_timestamp_seconds',
        help: 'NotAfter of each trust anchor in the bundle, as a Unix timestamp.',
        labelNames: ['fingerprint', 'subject'],
        registers: [cfg.registry],
        aggregator: 'min',
        collect() {
          this.reset();
          for (const a of store.issuer?.bundle.anchors ?? []) {
            this.set({ fingerprint: a.fingerprint256, subject: a.subject.replace(/\n/g, ',') }, Date.parse(a.validTo) / 1000);
          }
        },
      });
    }
  }

  /** Loads once and starts watching and polling. Never throws: a missing issuer means not ready. */
  async start(): Promise<void> {
    await this.reload();
    this.watch(this.cfg.issuerDir);
    const anchors = this.cfg.trustAnchors;
    if (anchors && anchors !== this.cfg.issuerDir) {
      const isDir = await stat(anchors).then((s) => s.isDirectory(), () => false);
      this.watch(isDir ? anchors : dirname(anchors));
    }
    this.poll = setInterval(() => void this.reload(), this.cfg.pollIntervalMs ?? 10_000);
    this.poll.unref();
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.poll = this.debounce = null;
  }

  /** The issuer to sign with, or null if none is loaded or it is outside its validity. */
  current(): Issuer | null {
    const i = this.issuer;
    if (!i) return null;
    const now = this.now();
    return now >= i.notBefore.getTime() && now < i.notAfter.getTime() ? i : null;
  }

  /** Why `current()` is null, for /ready and UNAVAILABLE messages. */
  unavailableReason(): string {
    const i = this.issuer;
    if (!i) return `no valid issuer loaded from ${this.cfg.issuerDir}: ${this.lastError}`;
    if (this.now() >= i.notAfter.getTime()) return `issuer ${describe(i.certificate)} expired at ${i.certificate.validTo}`;
    if (this.now() < i.notBefore.getTime()) return `issuer ${describe(i.certificate)} is not valid before ${i.certificate.validFrom}`;
    return 'issuer is valid';
  }

  onChange(listener: (issuer: Issuer) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the files now; concurrent calls coalesce into at most one extra pass. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.pending = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = null;
      if (this.pending) {
        this.pending = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    let material: Material;
    try {
      material = await this.readSettled();
    } catch (e) {
      this.fail(`read:${(e as Error).message}`, (e as Error).message, 'error');
      return;
    }
    if (material.digest === this.loadedDigest) return;
    try {
      const issuer = this.build(material);
      const previous = this.issuer;
      this.issuer = issuer;
      this.loadedDigest = material.digest;
      this.failedDigest = '';
      this.lastError = '';
      this.reloads?.inc({ result: 'ok' });
      this.cfg.logger.info(
        {
          event: 'issuer_loaded',
          issuer: issuer.certificate.subject.replace(/\n/g, ','),
          fingerprint: issuer.fingerprint,
          not_after: issuer.notAfter.toISOString(),
          anchors: issuer.bundle.anchors.length,
          replaced: previous?.fingerprint ?? null,
        },
        previous ? 'issuer reloaded' : 'issuer loaded',
      );
      for (const l of this.listeners) l(issuer);
    } catch (e) {
      this.fail(material.digest, (e as Error).message, 'refused');
    }
  }

  /** `refused`: the files were read and judged unfit; `error`: they could not be read. */
  private fail(digest: string, message: string, result: 'refused' | 'error'): void {
    this.lastError = message;
    if (digest === this.failedDigest) return; // same bad files as last time: already reported
    this.failedDigest = digest;
    this.reloads?.inc({ result });
    this.cfg.logger.error(
      { event: 'issuer_rejected', dir: this.cfg.issuerDir, reason: message, keeping: this.issuer?.fingerprint ?? null },
      this.issuer ? 'new issuer refused; the previous issuer keeps signing' : 'no valid issuer; Certify answers UNAVAILABLE',
    );
  }

  private build(m: Material): Issuer {
    const bundle = TrustBundle.fromPem(m.bundlePem, 'trust bundle');
    const certs = certificatesFromPem(m.certPem, 'issuer certificate').map((d) => new X509Certificate(d));
    const certificate = certs[0];
    let key: KeyObject;
    try {
      key = createPrivateKey(m.keyPem);
    } catch (e) {
      throw new PkiError('ERR_ISSUER_INVALID', `issuer key: cannot parse (${(e as Error).message})`);
    }
    if (!certificate.ca) throw new PkiError('ERR_ISSUER_INVALID', `issuer ${describe(certificate)} is not a CA certificate`);
    if (!certificate.checkPrivateKey(key)) throw new PkiError('ERR_ISSUER_INVALID', `issuer key does not match the certificate ${describe(certificate)}`);
    const now = new Date(this.now());
    const { path } = bundle.verify(certs, now); // also refuses expired and not-yet-valid certificates
    const signer = new LeafSigner(certificate.raw, key);
    return {
      certificate,
      signer,
      chain: path.map((c) => c.raw),
      bundle,
      notBefore: signer.issuer.notBefore,
      notAfter: signer.issuer.notAfter,
      fingerprint: certificate.fingerprint256,
    };
  }

  /**
   * Reads, retrying while the directories are being swapped under us: a Secret update
   * deletes the old `..data` target right after the swap, so a read that began on the old
   * side can find files missing. Any failure while a `..data` link moved is retried.
   */
  private async readSettled(): Promise<Material> {
    for (let attempt = 0; ; attempt++) {
      const before = await this.linkTargets();
      try {
        return await this.read();
      } catch (e) {
        const moved = (await this.linkTargets()) !== before;
        const vanished = (e as NodeJS.ErrnoException).code === 'ENOENT';
        if ((!moved && !vanished) || attempt >= 3) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /** Where the `..data` links of the watched directories point now. */
  private async linkTargets(): Promise<string> {
    const dirs = [this.cfg.issuerDir, ...(this.cfg.trustAnchors ? [this.cfg.trustAnchors] : [])];
    const targets = await Promise.all(dirs.map((d) => realpath(join(d, '..data')).catch(() => '')));
    return targets.join('|');
  }

  private async read(): Promise<Material> {
    // A Secret volume swaps `..data` to a new timestamped directory atomically; reading every
    // file through one resolution of that link gives a consistent cert/key/bundle triple.
    const issuerDir = await resolveAtomicDir(this.cfg.issuerDir);
    let pair: [string, string] | undefined;
    for (const [c, k] of PAIRS) {
      if (await exists(join(issuerDir, c))) {
        pair = [c, k];
        break;
      }
    }
    if (!pair) throw new Error(`no issuer certificate in ${this.cfg.issuerDir} (looked for ${PAIRS.map((p) => p[0]).join(', ')})`);
    const [certPem, keyPem] = await Promise.all([readFile(join(issuerDir, pair[0]), 'utf8'), readFile(join(issuerDir, pair[1]), 'utf8')]);
    const bundlePem = await this.readBundle(issuerDir);
    const digest = createHash('sha256').update(certPem).update('\0').update(keyPem).update('\0').update(bundlePem).digest('hex');
    return { certPem, keyPem, bundlePem, digest };
  }

  private async readBundle(issuerDir: string): Promise<string> {
    const where = this.cfg.trustAnchors;
    const dir = where ? await stat(where).then((s) => (s.isDirectory() ? where : null)) : issuerDir;
    if (!dir) return readFile(where!, 'utf8');
    const resolved = dir === issuerDir ? issuerDir : await resolveAtomicDir(dir);
    for (const name of BUNDLES) {
      if (await exists(join(resolved, name))) return readFile(join(resolved, name), 'utf8');
    }
    throw new Error(`no trust bundle in ${dir} (looked for ${BUNDLES.join(', ')})`);
  }

  private watch(dir: string): void {
    try {
      const w = watch(dir, { persistent: false }, () => this.scheduleReload());
      w.on('error', () => w.close()); // the directory went away; the poll carries on
      this.watchers.push(w);
    } catch (e) {
      this.cfg.logger.warn({ dir, reason: (e as Error).message }, 'cannot watch directory; relying on polling');
    }
  }

  private scheduleReload(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.reload();
    }, 50);
    this.debounce.unref();
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function resolveAtomicDir(dir: string): Promise<string> {
  const data = join(dir, '..data');
  return (await exists(data)) ? realpath(data) : dir;
}
