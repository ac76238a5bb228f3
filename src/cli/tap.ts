/**
 * `lanyard tap`: audit records live, from one or more proxies' `/audit`, filtered by the
 * proxies themselves (peer identity, port, decision, would-deny). Ends on Ctrl-C or after
 * `--max` records. A proxy drops records for a consumer that reads too slowly rather than
 * slow its traffic; tap says how many on stderr.
 */
import type { Command } from 'commander';
import { tapProxy, type Tap } from '../audit/admin-client.js';
import { shortName } from '../audit/render-edges.js';
import type { AuditRecordV1 } from '../telemetry/audit-record.js';
import { DECISIONS, type AuditFilter } from '../telemetry/audit-filter.js';
import type { AuditDecision } from '../telemetry/audit-record.js';
import { OperationError, outputOption } from './cli-conventions.js';
import { choiceOption, flagOption, integerOption, textOption, valueOption } from './cli-options.js';
import { addSourceOptions, normalizeSourceOptions, resolveSources, type SourceOptions } from './mesh-sources.js';
import { parsePort } from '../util/address.js';

interface TapOptions extends SourceOptions {
  identity?: string;
  port?: number;
  decision?: AuditDecision;
  wouldDeny?: boolean;
  max?: number;
  output: 'text' | 'json';
}

export function registerTap(program: Command): void {
  const cmd = program.command('tap').description('stream audit records live from proxies: each connection, stream and session as it closes');
  addSourceOptions(cmd)
    .addOption(textOption('--identity <identity>', 'only this peer: an identity, a SPIFFE ID, "*.suffix", or an unauthenticated peer\'s address'))
    .addOption(valueOption('--port <port>', 'only connections to this port', 'port', {}, parsePort))
    .addOption(choiceOption('--decision <decision>', 'only this decision', DECISIONS))
    .addOption(flagOption('--would-deny', 'only connections a dry-run rule (audit) would have refused'))
    .addOption(integerOption('--max <n>', 'stop after this many records', { min: 1 }))
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  lanyard tap --proxy 127.0.0.1:4191 --decision deny\n  lanyard tap -n payments --identity "*.shop.serviceaccount.identity.lanyard.cluster.local" -o json --max 100\n')
    .action(async (o: TapOptions, c: Command) => {
      normalizeSourceOptions(o, c);
      await runTap(o);
    });
}

async function runTap(o: TapOptions): Promise<void> {
  const filter: AuditFilter = { identity: o.identity, port: o.port, decision: o.decision, wouldDeny: o.wouldDeny === true };
  const { sources, notes } = await resolveSources(o);
  for (const n of notes) process.stderr.write(`lanyard: ${n}\n`);
  await new Promise<void>((resolve, reject) => {
    const taps: Tap[] = [];
    let printed = 0;
    let open = sources.length;
    let subscribed = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      for (const t of taps) t.close();
      if (err) reject(err);
      else resolve();
    };
    const interrupt = () => finish();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    for (const source of sources) {
      taps.push(
        tapProxy(
          source,
          filter,
          {
            onSubscribed: () => {
              if (++subscribed === sources.length) process.stderr.write(`lanyard: tapping ${sources.length} prox${sources.length === 1 ? 'y' : 'ies'}\n`);
            },
            onRecord: (r) => {
              if (done) return;
              process.stdout.write(o.output === 'json' ? JSON.stringify(r) + '\n' : line(r) + '\n');
              if (o.max !== undefined && ++printed >= o.max) finish();
            },
            onDropped: (n) => process.stderr.write(`lanyard: ${source.name} dropped ${n} record${n === 1 ? '' : 's'} for this tap (it read too slowly)\n`),
            onEnd: (err) => {
              if (done) return;
              if (err) process.stderr.write(`lanyard: ${err.message}\n`);
              if (--open === 0) finish(new OperationError(sources.length === 1 ? `the audit stream of ${source.name} ended` : 'every audit stream ended'));
            },
          },
          { connectTimeoutMs: o.timeout },
        ),
      );
    }
  });
}

/** `12:00:01.123 deny   inbound  web.default → api.default :8080 port:8080/no-match (policy-deny) 0 B/0 B` */
export function line(r: AuditRecordV1): string {
  const time = r.time.slice(11, 23);
  const [from, to] = r.direction === 'inbound' ? [r.peer_identity === 'unauthenticated' ? r.src : r.peer_identity, r.local_identity] : [r.local_identity, r.expected_identity ?? r.dst];
  const decision = r.would_deny ? 'audit!' : r.decision;
  const kind = r.event === 'mux_session' ? ' session' : '';
  return `${time} ${decision.padEnd(6)} ${r.direction.padEnd(8)} ${shortName(from)} → ${shortName(to)} :${r.port}${kind} ${r.rule} (${r.close_reason}) rx ${r.bytes_rx} tx ${r.bytes_tx}`;
}
