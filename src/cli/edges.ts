/**
 * `lanyard edges`: who talked to whom. One row per (client identity → server identity,
 * port), merged from the proxies' `/edges` counters without counting a connection twice
 * (src/audit/merge-edges.ts), as a table, JSON or Graphviz DOT.
 */
import type { Command } from 'commander';
import { collectEdges, wouldDenyOnly } from '../audit/edge-report.js';
import { edgesDot, edgesTable } from '../audit/render-edges.js';
import { OperationError, outputOption, printResult } from './cli-conventions.js';
import { flagOption } from './cli-options.js';
import { addSourceOptions, normalizeSourceOptions, resolveSources, type SourceOptions } from './mesh-sources.js';

interface EdgesOptions extends SourceOptions {
  output: 'text' | 'json' | 'dot';
  wouldDeny?: boolean;
}

export function registerEdges(program: Command): void {
  const cmd = program
    .command('edges')
    .description('show which identities talked to which: connections allowed and refused, bytes, mTLS, last seen, per client, server and port');
  addSourceOptions(cmd)
    .addOption(flagOption('--would-deny', 'only edges with connections a dry-run rule (audit) would have refused'))
    .addOption(outputOption(['text', 'json', 'dot']))
    .addHelpText(
      'after',
      `
Examples:
  lanyard edges --proxy 127.0.0.1:4191 --proxy 127.0.0.1:4192
  lanyard edges -n payments --would-deny
  lanyard edges -A -o dot | dot -Tsvg > mesh.svg`,
    )
    .action(async (o: EdgesOptions, c: Command) => {
      normalizeSourceOptions(o, c);
      await runEdges(o);
    });
}

async function runEdges(o: EdgesOptions): Promise<void> {
  const { sources, notes } = await resolveSources(o);
  for (const n of notes) process.stderr.write(`lanyard: ${n}\n`);
  let report = await collectEdges(sources, o.timeout);
  for (const s of report.sources) if (s.error) process.stderr.write(`lanyard: warning: ${s.error}\n`);
  if (report.sources.every((s) => s.error)) throw new OperationError(`no proxy answered (${report.sources.length} tried)`);
  if (o.wouldDeny) report = wouldDenyOnly(report);
  if (o.output === 'dot') return void process.stdout.write(edgesDot(report));
  printResult(o.output, report, () => edgesTable(report));
}
