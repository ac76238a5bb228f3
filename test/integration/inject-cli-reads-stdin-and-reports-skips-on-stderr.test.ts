/**
 * `kubectl get ... -o yaml | lanyard inject - | kubectl apply -f -`: the real CLI reads
 * standard input, prints only manifests on stdout and one line per workload on stderr
 * (injected, or skipped with the reason); --uninject gives the input back.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT } from '../support/cli.js';

const fixture = (n: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'inject', n), 'utf8');
const run = (args: string[], input: string) => {
  const r = spawnSync(process.execPath, [CLI, 'inject', ...args], { input, encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('ok/stdin in, manifests out, one note per workload on stderr; --uninject restores the input', () => {
  const input = fixture('workloads.yaml') + '---\n' + fixture('skipped.yaml');
  const out = run(['-', '--identity-trust-anchors-file', join(ROOT, 'test', 'fixtures', 'install', 'pki', 'ca.crt')], input);
  expect(out.code).toBe(0);
  expect(() => parseAllDocuments(out.stdout)).not.toThrow();
  const lines = out.stderr.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('injected '))).toHaveLength(8);
  expect(lines.filter((l) => l.startsWith('skipped '))).toEqual([
    expect.stringMatching(/^skipped DaemonSet monitoring\/node-exporter: hostNetwork: true/),
    'skipped Deployment shop/legacy: already has a sidecar proxy (container linkerd-proxy)',
    'skipped Deployment shop/batch: annotation lanyard.io/inject: disabled on the workload',
    'skipped Pod shop/probe: annotation lanyard.io/inject: disabled on the pod',
  ]);
  expect(out.stdout).not.toMatch(/^(injected|skipped) /m);
  const back = run(['--uninject', '-'], out.stdout);
  expect(back.code).toBe(0);
  expect(back.stdout).toBe(input);
});

test('ok/without the bundle file the fingerprint annotation is left out, and a note says so', () => {
  const out = run(['-'], fixture('workloads.yaml'));
  expect(out.stderr).toContain('note: no --identity-trust-anchors-file');
  expect(out.stdout).toContain('lanyard.io/proxy-version');
  expect(out.stdout).not.toContain('lanyard.io/trust-bundle-sha256');
});

test('fail/input that is not YAML names the input and the document', () => {
  const out = run(['-'], 'kind: Pod\n---\nspec: [\n');
  expect(out.code).toBe(2);
  expect(out.stdout).toBe('');
  expect(out.stderr).toMatch(/standard input: document 2/);
});
