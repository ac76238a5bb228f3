/**
 * `lanyard demo --keep` keeps what its help promises: the directory with the PKI, the
 * tokens, the policy and each process's log (`<name>.log`), in which the audit lines of
 * the allowed and the denied call can be read afterwards. `-o json` reports the same run
 * as one document, and every process is still stopped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';

const logLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('--keep -o json: the logs are kept and hold both decisions', async () => {
  const r = await lanyard(['demo', '--keep', '-o', 'json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(r.stdout) as {
    dir: string;
    logs: Record<string, string>;
    allowed: { response: string; seenByApi: Record<string, unknown> };
    denied: { response: string; decision: string; rule: string };
    processesStopped: number;
  };
  try {
    expect(result.processesStopped).toBe(4);
    expect(result.allowed.response).toMatch(/^HTTP 200: hello from api/);
    expect(result.allowed.seenByApi).toMatchObject({ event: 'connection', decision: 'allow', peer_identity: 'web.default.serviceaccount.identity.lanyard.cluster.local' });
    expect(result.denied).toMatchObject({ decision: 'deny', rule: expect.stringMatching(/^port:\d+\/no-match$/) });
    expect(Object.keys(result.logs).sort()).toEqual(['api', 'identity', 'intruder', 'web']);
    for (const [name, file] of Object.entries(result.logs)) {
      expect(file).toBe(join(result.dir, `${name}.log`));
      expect(existsSync(file)).toBe(true);
    }
    for (const f of ['pki/ca.crt', 'api-policy.yaml', 'web.token']) expect(existsSync(join(result.dir, f))).toBe(true);
    // What was audited during the run is in the kept logs, complete.
    const api = logLines(result.logs.api);
    expect(api).toContainEqual(expect.objectContaining({ event: 'connection', decision: 'allow', peer_identity: 'web.default.serviceaccount.identity.lanyard.cluster.local' }));
    expect(api).toContainEqual(expect.objectContaining({ event: 'connection', decision: 'deny', peer_identity: 'intruder.default.serviceaccount.identity.lanyard.cluster.local' }));
    expect(logLines(result.logs.identity)).toContainEqual(expect.objectContaining({ msg: 'identity service listening' }));
    // The shutdown is in the log too: the files were closed after the processes exited.
    expect(logLines(result.logs.web)).toContainEqual(expect.objectContaining({ msg: 'shutting down' }));
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps.split('\n').filter((l) => l.includes('dist/src/cli/main.js') && l.includes(result.dir))).toEqual([]);
  } finally {
    rmSync(result.dir, { recursive: true, force: true });
  }
}, 90_000);

test('text output says where the kept files and logs are', async () => {
  const r = await lanyard(['demo', '--keep']);
  expect(r.code).toBe(0);
  const m = /files kept in (\S+) \(logs: identity\.log, api\.log, web\.log, intruder\.log\)\.$/m.exec(r.stdout);
  expect(m).not.toBeNull();
  try {
    expect(existsSync(join(m![1], 'api.log'))).toBe(true);
  } finally {
    rmSync(m![1], { recursive: true, force: true });
  }
}, 90_000);
