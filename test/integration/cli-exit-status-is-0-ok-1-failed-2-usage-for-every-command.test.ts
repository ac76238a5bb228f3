/**
 * Exit status, for every sub-command of the built CLI: 0 success, 1 the operation failed
 * (a refused or unreachable service, a failed check, a refused change), 2 a usage error
 * (unknown flag, bad value, missing file, missing required option). Commander's own errors
 * exit 2, not its default 1. Every command the program registers must have a row here,
 * so a command added later cannot skip the convention.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createAnchor } from '../../certs/ca.js';
import { allCommands } from '../../src/cli/cli-conventions.js';
import { buildProgram } from '../../src/cli/program.js';
import { lanyard } from '../support/cli.js';
import { createTestPki } from '../support/test-ca.js';

const SLOW = 60_000; // each case is a fresh node process on a shared 2-core machine

let dir: string;
let busy: Server;
let busyPort: number;
let closedPort: number;
const f = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-exit-'));
  const pki = await createTestPki();
  writeFileSync(f('ca.crt'), pki.anchor.certPem);
  writeFileSync(f('ca.key'), pki.anchor.keyPem, { mode: 0o600 });
  writeFileSync(f('issuer.crt'), pki.issuer.certPem);
  writeFileSync(f('issuer.key'), pki.issuer.keyPem, { mode: 0o600 });
  writeFileSync(f('bundle.pem'), pki.anchor.certPem);
  const expired = await createAnchor({ commonName: 'root-expired', validityDays: 1, notBefore: new Date(Date.now() - 10 * 86_400_000) });
  writeFileSync(f('expired.crt'), expired.certPem);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.crt'), '-subj', '/CN=leaf', '-days', '1', '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: 'ignore' });
  writeFileSync(f('web.token'), 'x.y.z\n');
  writeFileSync(f('endpoints.json'), '[]\n');
  mkdirSync(f('empty-path'));
  // A port something already listens on, and one nothing listens on.
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(async () => {
  await new Promise<void>((r) => busy.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

interface Case {
  args: () => string[];
  env?: () => Record<string, string>;
  /** A line of stderr (the error is not always the first: grpc-js logs a bind failure before it). */
  says?: RegExp;
  /** Or what stdout reports, for a check that found a problem. */
  reports?: RegExp;
}

/** Per leaf command: one usage error, and one operation failure or the reason there is none. */
const TABLE: Record<string, { usage: Case; failure: Case | string }> = {
  identity: {
    usage: { args: () => ['identity', '--addr', 'localhost'], says: /^lanyard: --addr \(env LANYARD_IDENTITY_ADDR\): no port/ },
    failure: { args: () => ['identity', '--addr', `127.0.0.1:${busyPort}`, '--admin-addr', '127.0.0.1:0', '--issuer-dir', f('dev-pki')], says: /^lanyard: .*EADDRINUSE/ },
  },
  'token mint': {
    usage: { args: () => ['token', 'mint', '--ns', 'default', '--sa', 'web', '--ttl', '5', '--pki-dir', f('dev-pki')], says: /^lanyard: --ttl: a number needs a unit/ },
    failure: 'minting is local: its only failures are a missing key file or a bad option, both usage errors',
  },
  certify: {
    usage: { args: () => ['certify', '--ns', 'default', '--sa', 'web', '--token-file', f('web.token'), '--out-dir', f('web'), '--addr', ':8080'], says: /^lanyard: --addr \(env LANYARD_PROXY_IDENTITY_ADDR\): a host is needed/ },
    failure: {
      args: () => ['certify', '--ns', 'default', '--sa', 'web', '--token-file', f('web.token'), '--out-dir', f('web'), '--addr', `127.0.0.1:${closedPort}`, '--trust-anchors', f('ca.crt')],
      says: /^lanyard: 127\.0\.0\.1:\d+: Certify failed: UNAVAILABLE/,
    },
  },
  'certs create-anchor': {
    usage: { args: () => ['certs', 'create-anchor', '--out-dir', f('new'), '--validity', '10'], says: /^lanyard: --validity: a number needs a unit/ },
    failure: { args: () => ['certs', 'create-anchor', '--cert', f('ca.crt'), '--key', f('other.key')], says: /^lanyard: .*ca\.crt already exists \(use --force to overwrite\)$/ },
  },
  'certs create-issuer': {
    usage: { args: () => ['certs', 'create-issuer', '--ca-key', f('ca.key')], says: /^error: required option '--ca-cert <file>' not specified/ },
    failure: { args: () => ['certs', 'create-issuer', '--ca-cert', f('issuer.crt'), '--ca-key', f('issuer.key'), '--out-dir', f('x')], says: /^lanyard: --ca-cert: .*path length 0/ },
  },
  'certs bundle add': {
    usage: { args: () => ['certs', 'bundle', 'add', '--bundle', f('b.pem'), f('missing.crt')], says: /^lanyard: .*missing\.crt does not exist/ },
    failure: { args: () => ['certs', 'bundle', 'add', '--bundle', f('b.pem'), f('leaf.crt')], says: /^lanyard: .*CN=leaf is not a CA certificate/ },
  },
  'certs bundle remove': {
    usage: { args: () => ['certs', 'bundle', 'remove', '--bundle', f('bundle.pem'), '--fingerprint', '12:34'], says: /^lanyard: --fingerprint: expected a SHA-256 fingerprint/ },
    failure: { args: () => ['certs', 'bundle', 'remove', '--bundle', f('bundle.pem'), f('ca.crt')], says: /^lanyard: refusing to remove the last anchor/ },
  },
  'certs bundle list': {
    usage: { args: () => ['certs', 'bundle', 'list', '--bundle', f('missing.pem')], says: /^lanyard: --bundle: .*missing\.pem does not exist/ },
    failure: 'listing reads one file: a missing or malformed bundle is a usage error',
  },
  'certs inspect': {
    usage: { args: () => ['certs', 'inspect', f('missing.pem')], says: /^lanyard: FILE: .*missing\.pem does not exist$/ },
    failure: { args: () => ['certs', 'inspect', f('expired.crt')], reports: /PROBLEM: certificate 1 \(CN=root-expired\) expired at/ },
  },
  'certs rotate anchor': {
    usage: { args: () => ['certs', 'rotate', 'anchor', '--issuer', dir], says: /^error: required option '--new-anchor <file>' not specified/ },
    failure: { args: () => ['certs', 'rotate', 'anchor', '--new-anchor', f('expired.crt'), '--issuer', dir, '--no-proxies', '--step', 'wait-anchor'], reports: /× wait-anchor: cannot wait-anchor: the new anchor is not in the bundle/ },
  },
  'certs rotate issuer': {
    usage: { args: () => ['certs', 'rotate', 'issuer', '--issuer', dir, '--kubernetes'], says: /^lanyard: pass --issuer DIR \(files\) or --kubernetes/ },
    failure: { args: () => ['certs', 'rotate', 'issuer', '--issuer', dir, '--no-proxies'], reports: /× move-issuer: no new issuer: pass --new-issuer-cert/ },
  },
  // check's own rule: 1 warnings only (this issuer expires within 60 days), 2 failures (a
  // report on stdout; check-on-files-exits-0-ok-1-warnings-2-failures.test.ts), 2 usage.
  check: {
    usage: { args: () => ['check'], says: /^lanyard: nothing to check: pass --issuer/ },
    failure: { args: () => ['check', '--issuer', dir], reports: /‼ the issuer certificate is valid for at least 60d/ },
  },
  proxy: {
    usage: { args: () => ['proxy'], env: () => ({ LANYARD_PROXY_TRUST_ANCHORS: f('ca.crt'), LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.cluster.local', LANYARD_PROXY_INBOUND_ADDR: 'localhost' }), says: /^lanyard: --inbound-addr \(env LANYARD_PROXY_INBOUND_ADDR\): no port/ },
    failure: {
      args: () => ['proxy', '--admin-addr', `127.0.0.1:${busyPort}`],
      env: () => ({ LANYARD_PROXY_TRUST_ANCHORS: f('ca.crt'), LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.cluster.local', LANYARD_PROXY_IDENTITY_ADDR: `127.0.0.1:${closedPort}` }),
      says: /^lanyard: .*EADDRINUSE/,
    },
  },
  'proxy-init': {
    usage: { args: () => ['proxy-init', '--inbound-port', '0'], says: /^lanyard: --inbound-port \(env LANYARD_INIT_INBOUND_PORT\): expected a TCP port/ },
    failure: { args: () => ['proxy-init', '--dry-run'], env: () => ({ PATH: f('empty-path') }), says: /iptables not found on PATH/ },
  },
  demo: {
    usage: { args: () => ['demo', '-o', 'yaml'], says: /^lanyard: --output: expected one of text, json, got "yaml"$/ },
    failure: 'the demo runs its own processes on loopback; nothing an operator passes makes it fail',
  },
  discovery: {
    usage: { args: () => ['discovery', '--kubernetes'], env: () => ({ KUBECONFIG: `${f('nope-a')}:${f('nope-b')}` }), says: /^lanyard: none of the kubeconfig files in \$KUBECONFIG exist/ },
    failure: { args: () => ['discovery', '--static', f('endpoints.json'), '--addr', `127.0.0.1:${busyPort}`, '--admin-addr', '127.0.0.1:0'], says: /^lanyard: .*EADDRINUSE/ },
  },
  install: {
    usage: { args: () => ['install', '--pki-dir', f('install-pki'), '--set', 'identity.replica=3'], says: /^lanyard: --set identity.replica=3: unknown key "identity.replica"/ },
    failure: 'rendering is local: bad PKI files and bad values are usage errors',
  },
  inject: {
    usage: { args: () => ['inject', f('missing.yaml')], says: /^lanyard: <file>: cannot read .*missing\.yaml: no such file$/ },
    failure: 'inject rewrites text locally: input it cannot read or parse is a usage error',
  },
  injector: {
    usage: { args: () => ['injector', '--addr', 'localhost'], says: /^lanyard: --addr \(env LANYARD_INJECTOR_ADDR\): no port/ },
    failure: { args: () => ['injector', '--addr', '127.0.0.1:0', '--admin-addr', `127.0.0.1:${busyPort}`, '--trust-anchors', f('ca.crt')], says: /^lanyard: .*EADDRINUSE/ },
  },
  edges: {
    usage: { args: () => ['edges'], says: /^lanyard: name the proxies to read: --proxy/ },
    failure: { args: () => ['edges', '--proxy', `127.0.0.1:${closedPort}`], says: /^lanyard: no proxy answered \(1 tried\)$/ },
  },
  tap: {
    usage: { args: () => ['tap', '--proxy', `127.0.0.1:${closedPort}`, '--decision', 'maybe'], says: /^lanyard: --decision: expected one of allow, deny, audit, got "maybe"$/ },
    failure: { args: () => ['tap', '--proxy', `127.0.0.1:${closedPort}`], says: /^lanyard: 127\.0\.0\.1:\d+: ECONNREFUSED$/ },
  },
  dashboard: {
    usage: { args: () => ['dashboard', '--proxy', `127.0.0.1:${closedPort}`, '--interval', '5'], says: /^lanyard: --interval: a number needs a unit/ },
    failure: { args: () => ['dashboard', '--proxy', `127.0.0.1:${closedPort}`, '--addr', `127.0.0.1:${busyPort}`], says: /^lanyard: cannot serve on 127\.0\.0\.1:\d+: EADDRINUSE$/ },
  },
  version: {
    usage: { args: () => ['version', '--output', 'yaml'], says: /^lanyard: --output: expected one of text, json/ },
    failure: 'version reads local files only',
  },
  completion: {
    usage: { args: () => ['completion', 'fish'], says: /^lanyard: <shell>: expected one of bash, zsh, got "fish"$/ },
    failure: 'printing a script cannot fail',
  },
};

let program: Command;
const pathOf = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};
const leaves = () => allCommands(program).filter((c) => c.parent && c.commands.length === 0).map(pathOf);
const groups = () => allCommands(program).filter((c) => c.parent && c.commands.length > 0).map(pathOf);

beforeAll(async () => {
  program = await buildProgram();
});

test('every sub-command has a row in the table', () => {
  expect(Object.keys(TABLE).sort()).toEqual(leaves().sort());
});

async function expectExit(c: Case, code: number): Promise<void> {
  const r = await lanyard(c.args(), c.env?.() ?? {});
  const said = r.stderr.split('\n').find((l) => c.says?.test(l));
  expect({ code: r.code, said: c.says ? said : undefined, stdout: c.reports ? r.stdout : undefined }).toEqual({
    code,
    said: c.says ? expect.stringMatching(c.says) : undefined,
    stdout: c.reports ? expect.stringMatching(c.reports) : undefined,
  });
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/** The command's required options with placeholder values, so commander gets as far as the unknown flag. */
function requiredOptions(path: string): string[] {
  let cmd = program;
  for (const name of path.split(' ')) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, 'x']);
}

describe.each(Object.keys(TABLE))('%s', (path) => {
  test('an unknown flag exits 2', async () => {
    const r = await lanyard([...path.split(' '), ...requiredOptions(path), '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option '--no-such-flag'/);
  }, SLOW);
  test('a usage error exits 2', () => expectExit(TABLE[path].usage, 2), SLOW);
  // A command with nothing that can fail as an operation says why in the table instead.
  const failure = TABLE[path].failure;
  if (typeof failure !== 'string') test('a failed operation exits 1', () => expectExit(failure, 1), SLOW);
});

test.each([['token'], ['certs'], ['certs bundle'], ['certs rotate']])('%s without a sub-command shows help and exits 2', async (path) => {
  expect(groups()).toContain(path);
  const r = await lanyard(path.split(' '));
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^Usage: lanyard /);
}, SLOW);

test('--help and --version exit 0', async () => {
  expect((await lanyard(['--help'])).code).toBe(0);
  expect((await lanyard(['certs', 'bundle', 'list', '--help'])).code).toBe(0);
  const v = await lanyard(['--version']);
  expect({ code: v.code, stdout: v.stdout.trim() }).toEqual({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
}, SLOW);

test('an unknown command exits 2', async () => {
  const r = await lanyard(['certifiy']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/unknown command 'certifiy'/);
}, SLOW);
