/**
 * Where an issuer lives on disk and how to read it: a directory holding `tls.crt`+`tls.key`
 * (a Kubernetes TLS Secret), `crt.pem`+`key.pem` or `issuer.crt`+`issuer.key`, and a trust
 * bundle in that directory (`ca.crt`, `ca-bundle.crt`) or in a file or directory of its own.
 * Reading only: the texts are checked by check-issuer.ts.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IssuerError, type IssuerMaterial } from './check-issuer.js';

const PAIRS: [string, string][] = [
  ['tls.crt', 'tls.key'],
  ['crt.pem', 'key.pem'],
  ['issuer.crt', 'issuer.key'],
];
const BUNDLES = ['ca.crt', 'ca-bundle.crt'];

export interface IssuerFilesConfig {
  issuerDir: string;
  /** A bundle file, or a directory with `ca.crt` or `ca-bundle.crt`. Default: `issuerDir`. */
  trustAnchors?: string;
}

export class IssuerFiles {
  constructor(private readonly cfg: IssuerFilesConfig) {}

  /** Every file a read may use (most are absent): what to watch and stat. */
  paths(): string[] {
    const dirs = [this.cfg.issuerDir];
    const out = PAIRS.flat().map((f) => join(this.cfg.issuerDir, f));
    const anchors = this.cfg.trustAnchors;
    if (anchors && anchors !== this.cfg.issuerDir) {
      out.push(anchors);
      dirs.push(anchors);
    }
    for (const d of dirs) out.push(...BUNDLES.map((f) => join(d, f)));
    return out;
  }

  /**
   * Reads certificate, key and bundle.
   * @throws IssuerError ERR_ISSUER_FILES when a file is missing or unreadable
   */
  async read(): Promise<IssuerMaterial> {
    try {
      // A Secret volume swaps `..data` to a new timestamped directory atomically; reading every
      // file through one resolution of that link gives a consistent cert/key/bundle triple.
      const issuerDir = await resolveAtomicDir(this.cfg.issuerDir);
      const pair = await firstExisting(issuerDir, PAIRS.map((p) => p[0]));
      if (!pair) throw new IssuerError('ERR_ISSUER_FILES', `no issuer certificate in ${this.cfg.issuerDir} (looked for ${PAIRS.map((p) => p[0]).join(', ')})`);
      const keyFile = PAIRS.find((p) => p[0] === pair)![1];
      const [certPem, keyPem] = await Promise.all([readFile(join(issuerDir, pair), 'utf8'), readFile(join(issuerDir, keyFile), 'utf8')]);
      return { certPem, keyPem, bundlePem: await this.readBundle(issuerDir) };
    } catch (e) {
      throw e instanceof IssuerError ? e : new IssuerError('ERR_ISSUER_FILES', (e as Error).message);
    }
  }

  /** The bundle's text; an unreadable or missing bundle is an ERR_ISSUER_FILES about the bundle. */
  private async readBundle(issuerDir: string): Promise<string> {
    try {
      return await this.readBundleFile(issuerDir);
    } catch (e) {
      throw e instanceof IssuerError ? e : new IssuerError('ERR_ISSUER_FILES', `trust bundle: ${(e as Error).message}`, 'bundle');
    }
  }

  private async readBundleFile(issuerDir: string): Promise<string> {
    const where = this.cfg.trustAnchors;
    const dir = where ? await stat(where).then((s) => (s.isDirectory() ? where : null)) : issuerDir;
    if (!dir) return readFile(where!, 'utf8');
    const resolved = dir === issuerDir ? issuerDir : await resolveAtomicDir(dir);
    const name = await firstExisting(resolved, BUNDLES);
    if (!name) throw new IssuerError('ERR_ISSUER_FILES', `no trust bundle in ${dir} (looked for ${BUNDLES.join(', ')})`, 'bundle');
    return readFile(join(resolved, name), 'utf8');
  }
}

async function firstExisting(dir: string, names: string[]): Promise<string | undefined> {
  for (const name of names) if (await exists(join(dir, name))) return name;
  return undefined;
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
