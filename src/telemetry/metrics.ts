/**
 * prom-client registries. Each component instance gets its own Registry (never the global
 * default) so several services, or several tests, can live in one process.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's default metrics include three gauges named like counters
 * (`nodejs_active_{handles,requests,resources}_total`), which `promtool check metrics`
 * refuses. Each is the sum of its by-type sibling (`nodejs_active_handles{type}` …), so
 * nothing is lost by leaving them out.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.processMetrics) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
