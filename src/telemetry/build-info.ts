/**
 * `lanyard_build_info`: a gauge fixed at 1 whose labels say what is running, the
 * Prometheus convention for versions (Linkerd's proxies and Kubernetes components export
 * the same shape). Every Lanyard process registers it once on its own registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gauge, type Registry } from './metrics.js';

export interface BuildInfo {
  /** Lanyard's version (package.json). */
  version: string;
  /** `process.version` without the leading v. */
  node_version: string;
  /** Which part of Lanyard: identity, proxy, discovery. */
  component: string;
}

let packageVersion: string | undefined;

/** The version in Lanyard's package.json, found from this file whether it runs from src/ or dist/. */
export function lanyardVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  packageVersion = 'unknown';
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'lanyard' && pkg.version) packageVersion = pkg.version;
    break;
  }
  return packageVersion;
}

export function buildInfo(component: string): BuildInfo {
  return { version: lanyardVersion(), node_version: process.versions.node, component };
}

/** Registers `lanyard_build_info{version,node_version,component} 1` on `registry`. */
export function registerBuildInfo(registry: Registry, component: string): BuildInfo {
  const info = buildInfo(component);
  const gauge = new Gauge({
    name: 'lanyard_build_info',
    help: 'Always 1; the labels say which Lanyard version and Node.js runtime this process runs.',
    labelNames: ['version', 'node_version', 'component'],
    registers: [registry],
    // Identity workers report the same build; summing them would say 2.
    aggregator: 'first',
  });
  gauge.set({ ...info }, 1);
  return info;
}
