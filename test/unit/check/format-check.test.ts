/**
 * The text table: one block per category, ✓/‼/×/- per check, details and a hint under a
 * problem (details of passing checks only with --verbose), and the verdict with its counts.
 * The exit status follows the worst check.
 */
import { buildReport, exitStatusOfReport, fail, ok, skip, warn } from '../../../src/check/check-result.js';
import { formatCheckReport } from '../../../src/check/format-check.js';

const NOW = new Date('2030-06-01T00:00:00Z');
const categories = [
  {
    name: 'lanyard-identity',
    checks: [
      ok('anchors-readable', 'the trust bundle holds CA certificates', ['CN=root']),
      warn('issuer-not-expiring-soon', 'the issuer certificate is valid for at least 60d', ['expires at 2030-06-21T00:00:00Z (in 20d 0h)'], 'rotate the issuer'),
      skip('issuer-key-matches', 'the issuer key matches its certificate', 'the key is not available'),
    ],
  },
  { name: 'lanyard-proxies', checks: [fail('proxies-ready', 'every proxy is ready', ['web: not ready: no certificate'], 'see its log')] },
];

test('the table', () => {
  expect(formatCheckReport(buildReport(categories, NOW))).toBe(
    [
      'lanyard-identity',
      '----------------',
      '✓ the trust bundle holds CA certificates',
      '‼ the issuer certificate is valid for at least 60d',
      '    expires at 2030-06-21T00:00:00Z (in 20d 0h)',
      '    hint: rotate the issuer',
      '- the issuer key matches its certificate (skipped: the key is not available)',
      '',
      'lanyard-proxies',
      '---------------',
      '× every proxy is ready',
      '    web: not ready: no certificate',
      '    hint: see its log',
      '',
      'Status check results are × (1 failure, 1 warning)',
    ].join('\n'),
  );
  expect(formatCheckReport(buildReport(categories, NOW), { verbose: true })).toContain('✓ the trust bundle holds CA certificates\n    CN=root\n');
});

test.each([
  ['ok', [ok('a', 'a'), skip('b', 'b', 'x')], 0, 'Status check results are ✓'],
  ['warnings only', [ok('a', 'a'), warn('b', 'b', ['x'], 'h')], 1, 'Status check results are ‼ (1 warning)'],
  ['a failure', [warn('b', 'b', ['x'], 'h'), fail('c', 'c', ['x'], 'h'), fail('d', 'd', ['y'], 'h')], 2, 'Status check results are × (2 failures, 1 warning)'],
] as const)('exit status: %s', (_name, checks, code, verdict) => {
  const r = buildReport([{ name: 'c', checks: [...checks] }], NOW);
  expect(exitStatusOfReport(r)).toBe(code);
  expect(formatCheckReport(r).split('\n').pop()).toBe(verdict);
});
