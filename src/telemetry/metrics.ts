/**
 * prom-client registries. Each component instance gets its own Registry (never the global
 * default) so several services, or several tests, can live in one process.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
