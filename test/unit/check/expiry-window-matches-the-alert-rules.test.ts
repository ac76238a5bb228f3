/**
 * `lanyard check` warns about an anchor or issuer inside the same window as the Prometheus
 * alert rules fire: one number, read here from the rules file itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_EXPIRY_WARNING_MS } from '../../../src/check/expiry.js';
import { ROOT } from '../../support/cli.js';

test('the ExpiringSoon alerts use the default --expiry-warning', () => {
  const rules = parse(readFileSync(join(ROOT, 'src/telemetry/prometheus/lanyard-alerts.rules.yaml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
  const soon = rules.groups.flatMap((g) => g.rules).filter((r) => /^Lanyard(Issuer|TrustAnchor)ExpiringSoon$/.test(r.alert ?? ''));
  expect(soon.map((r) => r.alert).sort()).toEqual(['LanyardIssuerExpiringSoon', 'LanyardTrustAnchorExpiringSoon']);
  for (const r of soon) {
    const m = /<\s*(\d+)\s*\*\s*86400/.exec(r.expr);
    expect({ alert: r.alert, windowMs: m ? Number(m[1]) * 86_400_000 : null }).toEqual({ alert: r.alert, windowMs: DEFAULT_EXPIRY_WARNING_MS });
  }
});
