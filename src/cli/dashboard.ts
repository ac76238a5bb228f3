/**
 * `lanyard dashboard`: the identity graph in a browser, live. A local command rather than a
 * page on the identity service's admin port: the identity service knows no proxies (it
 * signs certificates; it neither lists pods nor reads proxies), and a page there would show
 * the whole mesh's traffic to anyone who can reach that port. The dashboard reads the same
 * sources as `lanyard edges`, with the operator's own credentials, and listens on loopback
 * unless told otherwise.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { DashboardServer } from '../audit/dashboard-server.js';
import { sourcesFromAddresses } from '../audit/proxy-sources.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { OperationError } from './cli-conventions.js';
import { addressOption, durationOption } from './cli-options.js';
import { addSourceOptions, normalizeSourceOptions, resolveSources, type SourceOptions } from './mesh-sources.js';
import { packageRoot } from './paths.js';

interface DashboardOptions extends SourceOptions {
  addr: HostPort;
  interval: number;
}

/** The page ships as plain files in the package (and the image), served as they are. */
export const dashboardPageDir = (): string => join(packageRoot(), 'src', 'audit', 'page');

export function registerDashboard(program: Command): void {
  const cmd = program.command('dashboard').description('serve a live page of the identity graph: who talks to whom, allowed and refused, and each edge\'s recent audit records');
  addSourceOptions(cmd)
    .addOption(addressOption('--addr <host:port>', 'where the page is served', 'listen', { default: '127.0.0.1:50750' }))
    .addOption(durationOption('--interval <duration>', 'how often the graph is re-read', { default: '2s', min: 100 }))
    .addHelpText('after', '\nExamples:\n  lanyard dashboard --proxy 127.0.0.1:4191 --proxy 127.0.0.1:4192\n  lanyard dashboard -n payments --addr 127.0.0.1:8084\n')
    .action(async (o: DashboardOptions, c: Command) => {
      normalizeSourceOptions(o, c);
      await runDashboard(o);
    });
}

async function runDashboard(o: DashboardOptions): Promise<void> {
  // Resolved once now, so a usage error or an empty namespace fails at start-up; again at every refresh after.
  const first = await resolveSources(o);
  const sources = o.proxy?.length ? async () => sourcesFromAddresses(o.proxy!) : async () => (await resolveSources(o)).sources;
  const note = (m: string) => process.stderr.write(`lanyard: ${m}\n`);
  for (const n of first.notes) note(n);
  const server = new DashboardServer({ host: o.addr.host, port: o.addr.port, sources, intervalMs: o.interval, timeoutMs: o.timeout, pageDir: dashboardPageDir(), note });
  let address;
  try {
    address = await server.start();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new OperationError(err.code === 'ENOENT' ? `the dashboard page is missing from this installation (${err.path})` : `cannot serve on ${formatAddress(o.addr)}: ${err.code ?? err.message}`);
  }
  process.stdout.write(`http://${formatAddress({ host: address.address, port: address.port })}/\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
