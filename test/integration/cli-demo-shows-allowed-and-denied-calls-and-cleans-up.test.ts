/**
 * `lanyard demo` runs end to end: the web → api call succeeds with both identities shown,
 * the intruder is denied with its rule and reason, and no process is left behind.
 */
import { execFileSync } from 'node:child_process';
import { lanyard } from '../support/cli.js';

function lanyardProcesses(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('dist/src/cli/main.js') && l.includes(marker));
}

test('demo prints the allowed and the denied call and stops everything', async () => {
  const r = await lanyard(['demo']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/1\. web calls api\n {3}response: HTTP 200: hello from api/);
  expect(r.stdout).toMatch(/api's proxy saw: peer web\.default\.serviceaccount\.identity\.lanyard\.cluster\.local \(spiffe:\/\/cluster\.local\/ns\/default\/sa\/web\), TLS true, allow/);
  expect(r.stdout).toMatch(/web's proxy saw: peer api\.default\.serviceaccount\.identity\.lanyard\.cluster\.local, verified/);
  expect(r.stdout).toMatch(/2\. intruder calls api\n {3}response: refused/);
  expect(r.stdout).toMatch(/api's proxy deny peer intruder\.default\.serviceaccount\.identity\.lanyard\.cluster\.local: rule port:\d+\/no-match/);
  expect(r.stdout).toMatch(/Done: 4 processes stopped\./);
  expect(lanyardProcesses('lanyard-demo-')).toEqual([]);
}, 60_000);
