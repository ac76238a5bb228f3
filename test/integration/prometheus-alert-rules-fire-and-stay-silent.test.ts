/**
 * The alert rules shipped in src/telemetry/prometheus/ are valid for the real Prometheus
 * toolchain and behave: `promtool check rules` accepts them, and `promtool test rules` runs
 * series that make every alert fire (with its labels and annotations) and series that keep
 * it silent. Every alert has both kinds of case, and every metric a rule reads is one the
 * identity service really exports or one of the proxy metrics agreed with the proxy
 * (Linkerd's names).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/cli.js';
import { startIdentity } from '../support/identity-harness.js';
import { promtool, promtoolTest } from '../support/promtool.js';
import { PROXY_METRICS_CONTRACT } from '../support/proxy-metrics-contract.js';

const DIR = join(ROOT, 'src', 'telemetry', 'prometheus');
const RULES = join(DIR, 'lanyard-alerts.rules.yaml');
const TESTS = join(DIR, 'lanyard-alerts.test.yaml');


interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}
interface Case {
  alertname: string;
  exp_alerts: unknown[];
}

const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const cases = (parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: Case[] }[] }).tests.flatMap((t) => t.alert_rule_test);

promtoolTest('promtool check rules accepts the rules file', async () => {
  const r = await promtool(['check', 'rules', RULES]);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  expect(r.code).toBe(0);
});

promtoolTest('promtool test rules: each alert fires on its series and stays silent on the others', async () => {
  const r = await promtool(['test', 'rules', TESTS]);
  expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS/);
  expect(r.code).toBe(0);
});

test('every alert has a firing case and a silent case, a severity and a summary', () => {
  expect(rules.map((r) => r.alert).sort()).toEqual([
    'LanyardCertifyErrorRatioHigh',
    'LanyardIssuerExpired',
    'LanyardIssuerExpiringSoon',
    'LanyardProxyCertificateExpired',
    'LanyardProxyCertificateExpiringSoon',
    'LanyardProxyDenialSpike',
    'LanyardProxyNotReady',
    'LanyardTrustAnchorExpired',
    'LanyardTrustAnchorExpiringSoon',
  ]);
  for (const r of rules) {
    const mine = cases.filter((c) => c.alertname === r.alert);
    expect({ alert: r.alert, fires: mine.some((c) => c.exp_alerts.length > 0), silent: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert: r.alert, fires: true, silent: true });
    expect(['warning', 'critical']).toContain(r.labels?.severity);
    expect(r.annotations?.summary).toBeTruthy();
  }
});

test('the expiry warnings use the same 60-day window as `lanyard check`', () => {
  for (const name of ['LanyardIssuerExpiringSoon', 'LanyardTrustAnchorExpiringSoon']) {
    expect(rules.find((r) => r.alert === name)!.expr).toContain('< 60 * 86400');
  }
});

test('every metric a rule reads is exported by the identity service or is in the proxy contract', async () => {
  const h = await startIdentity();
  let exported: Set<string>;
  try {
    exported = new Set([...(await h.service.registry.metrics()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  } finally {
    await h.stop();
  }
  const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'and', 'or', 'offset', 'time', 'without', 'min', 'max']);
  for (const r of rules) {
    const names = [...r.expr.replace(/\{[^}]*\}/g, '').matchAll(/\b([a-z_][a-z0-9_]*)\b/g)].map((m) => m[1]).filter((w) => !PROMQL_WORDS.has(w) && !/^(job|namespace|pod)$/.test(w));
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect({ alert: r.alert, metric: n, known: exported.has(n) || n in PROXY_METRICS_CONTRACT }).toEqual({ alert: r.alert, metric: n, known: true });
  }
});
