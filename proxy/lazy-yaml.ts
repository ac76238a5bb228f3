/**
 * The `yaml` package, loaded on first use. Once loaded it holds about 1 MiB of V8 heap for
 * the life of the process; a sidecar whose configuration has no YAML text (transparent mode:
 * no routes, no policy file) never pays that. Synchronous, because parsing configuration is.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

let loaded: Yaml | null = null;

export function yaml(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
