/**
 * `npm run bench:identity`: Certify throughput and latency end to end (a real identity
 * service process, gRPC over TLS, dev-style JWKS validator) with one process and with
 * `--workers 2`, the signing core alone with each CSR verifier (node:crypto, and the native
 * addon when built), and the machine's OpenSSL limit for the same work, all measured in this
 * run. If cfssl and the peer scripts are present (../shared/bench/peers), cfssl's signing
 * server is measured too.
 *
 * Env: DURATION (seconds per level, default 5), LEVELS (default "1,8,64"), WORKERS (default
 * "1,2"), BENCH_NODE_ARGS (extra node flags for the identity service process, e.g.
 * --cpu-prof), SKIP_CFSSL=1.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { createAnchor, createIssuer } from '../../certs/ca.js';
import { checkCsrNames, parseCsr, verifyCsr, type CsrSignatureVerifier } from '../../src/pki/csr.js';
import { LeafSigner } from '../../src/pki/leaf-signer.js';
import { TrustDomain } from '../../src/pki/names.js';
import { leafValidity } from '../../src/pki/validity.js';
import { mintDevToken, DEV_TOKEN_ISSUER } from '../../src/identity/validators/dev-token.js';
import { cliEntry, packageRoot } from '../../src/cli/paths.js';
import { loadNative, nativeStatus } from '../../proxy/native/index.js';
import { workloadCsr } from '../support/test-ca.js';
import { certifyFrame, LightCertifyClient } from './light-certify-client.js';
import { fmt, freePort, machineBusySeconds, opensslEcdsaP256, percentile, run, stopChild, treeCpuSeconds, treePeakRssMiB, waitForHttp200 } from './bench-util.js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';

const DURATION = Number(process.env.DURATION ?? 5);
const LEVELS = (process.env.LEVELS ?? '1,8,64').split(',').map(Number);
const WORKERS = (process.env.WORKERS ?? '1,2').split(',').map(Number);
const td = new TrustDomain();
const connectionsFor = (concurrency: number) => Math.max(1, Math.ceil(concurrency / 16));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-bench-identity-'));
  try {
    const anchor = await createAnchor({ commonName: 'root.lanyard.cluster.local' });
    const issuer = await createIssuer({ commonName: 'identity.lanyard.cluster.local', caCertPem: anchor.certPem, caKeyPem: anchor.keyPem });
    writeFileSync(join(dir, 'issuer.crt'), issuer.certPem);
    writeFileSync(join(dir, 'issuer.key'), issuer.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), anchor.certPem);
    const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = await exportJWK(tokenKey.publicKey);
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...jwk, kid: 'bench', alg: 'ES256', use: 'sig' }] }));
    const keyPem = tokenKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

    console.log(`# Lanyard identity benchmark (${new Date().toISOString()}, node ${process.version}, DURATION=${DURATION}s)\n`);
    console.log(`${availableParallelism()} CPUs; load average before the run ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const openssl = await opensslEcdsaP256(3);
    const core = await signingCore(issuer.certPem, issuer.keyPem);
    const e2e: E2eResult[] = [];
    for (const workers of WORKERS) e2e.push(...(await endToEnd(dir, anchor.certPem, keyPem, workers)));
    const cfssl = await cfsslPeer();

    console.log('## Signing core (parse + verify CSR + check names + sign leaf), one process\n');
    if (!nativeStatus().loaded) console.log(`native verifier not measured: ${nativeStatus().reason}\n`);
    console.log('| CSR verifier | in flight | certs/s (wall) | certs per CPU-second (= per core) |');
    console.log('|---|---|---|---|');
    for (const r of core) console.log(`| ${r.verifier} | ${r.inFlight} | ${fmt(r.wall)} | ${fmt(r.perCore)} |`);
    if (openssl) {
      console.log(`\nOpenSSL limit, same machine, same run (${openssl.version}): sign ${fmt(openssl.sign)}/s, verify ${fmt(openssl.verify)}/s → verify+sign ${fmt(openssl.limit)} certs/s per core`);
    }
    console.log('\n## End-to-end Certify (gRPC + TLS, JWKS token check, audit log on), identity service in its own process(es)\n');
    const conns = LEVELS.map((c) => `${connectionsFor(c)} at ${c}`).join(', ');
    console.log(`Load: one HTTP/2 connection per 16 calls in flight (${conns}); workers share connections, not calls.\n`);
    console.log('"others" = CPUs busy with processes other than the service and this load generator (noise on a shared machine).\n');
    console.log('| workers | CSR verifier | concurrency | certs/s | p50 ms | p99 ms | errors | server CPU ms/cert | server peak RSS MiB (sum) | others (CPUs) |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of e2e) {
      console.log(
        `| ${r.workers} | ${r.verifier} | ${r.concurrency} | ${fmt(r.rate)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} | ${fmt(r.cpuMsPerCert, 3)} | ${fmt(r.rssMiB, 1)} | ${fmt(r.othersCpus, 2)} |`,
      );
    }
    if (cfssl) {
      console.log(`\ncfssl serve (${cfssl.note}), same run: ${fmt(cfssl.certs_per_s)} certs/s, p50 ${cfssl.p50_ms} ms, p99 ${cfssl.p99_ms} ms, errors ${cfssl.errors}`);
    } else {
      console.log('\ncfssl: not measured (see above if it failed; otherwise run ../shared/bench/peers/setup.sh to install it; needs ../shared/bench/peers).');
    }
    console.log('\nBENCHJSON ' + JSON.stringify({ bench: 'identity', openssl, core, e2e, cfssl }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface CoreResult {
  verifier: string;
  inFlight: number;
  wall: number;
  perCore: number;
}

async function signingCore(issuerCertPem: string, issuerKeyPem: string): Promise<CoreResult[]> {
  const signer = new LeafSigner(new X509Certificate(issuerCertPem).raw, createPrivateKey(issuerKeyPem));
  const ref = { namespace: 'default', serviceAccount: 'web' };
  const identity = td.identity(ref);
  const spiffeId = td.spiffeId(ref);
  const csrs = Array.from({ length: 500 }, () => workloadCsr(identity).csr);
  const verifiers: [string, CsrSignatureVerifier | undefined][] = [['node', undefined]];
  const native = loadNative();
  if (native) verifiers.push(['native', native.ecdsaVerify]);
  const out: CoreResult[] = [];
  for (const [verifier, csrVerifier] of verifiers) {
    const one = async (i: number) => {
      const csr = parseCsr(csrs[i % csrs.length]);
      const key = await verifyCsr(csr, csrVerifier);
      checkCsrNames(csr, identity);
      const window = leafValidity(Date.now(), 86_400_000, 20_000, signer.notAfter);
      await signer.sign({ key, dnsName: identity, spiffeId, ...window });
    };
    for (const inFlight of [1, 16]) {
      await Promise.all(Array.from({ length: inFlight }, (_, w) => one(w))); // warm-up
      let next = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + DURATION * 1000;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() < end) await one(next++);
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      out.push({ verifier, inFlight, wall: next / secs, perCore: next / ((cpu.user + cpu.system) / 1e6) });
    }
  }
  return out;
}

interface E2eResult {
  workers: number;
  verifier: string;
  concurrency: number;
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  cpuMsPerCert: number;
  rssMiB: number;
  othersCpus: number;
}

async function endToEnd(dir: string, anchorPem: string, tokenKeyPem: string, workers: number): Promise<E2eResult[]> {
  const port = await freePort();
  const adminPort = await freePort();
  const logFile = join(dir, `identity-workers-${workers}.log`);
  const log = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the service
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      cliEntry(),
      'identity',
      '--addr', `127.0.0.1:${port}`,
      '--admin-addr', `127.0.0.1:${adminPort}`,
      '--issuer-dir', dir,
      '--validator', 'jwks',
      '--jwks-file', join(dir, 'jwks.json'),
      '--token-issuer', DEV_TOKEN_ISSUER,
      '--workers', String(workers),
    ],
    { stdio: ['ignore', log, log], cwd: packageRoot() },
  );
  try {
    // The start-up line comes once Certify listens (in every worker); /ready is 200 once
    // every worker has its issuer. Only then does load start, so no connection is handed
    // to a worker that is still starting.
    const verifier = await serverVerifier(logFile);
    await waitForHttp200(`http://127.0.0.1:${adminPort}/ready`);
    const serverName = td.identity({ namespace: 'lanyard', serviceAccount: 'lanyard-identity' });
    // 64 workloads, each with its own service account, token and a pool of CSRs.
    const workloads = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const ref = { namespace: 'bench', serviceAccount: `svc-${i}` };
        const identity = td.identity(ref);
        const token = await mintDevToken({ keyPem: tokenKeyPem, kid: 'bench', namespace: ref.namespace, serviceAccount: ref.serviceAccount });
        return { frames: Array.from({ length: 8 }, () => certifyFrame(identity, token, workloadCsr(identity).csr)) };
      }),
    );
    const results: E2eResult[] = [];
    for (const concurrency of LEVELS) {
      const channels = Array.from({ length: connectionsFor(concurrency) }, () => new LightCertifyClient(port, serverName, anchorPem));
      const call = (w: number, n: number) => {
        const wl = workloads[w % workloads.length];
        return channels[w % channels.length].call(wl.frames[n % wl.frames.length]);
      };
      // Warm-up: connections, JIT, token cache.
      const warmEnd = performance.now() + 1000;
      await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
        for (let n = 0; performance.now() < warmEnd; n++) await call(w, n).catch(() => undefined);
      }));
      const latencies: number[] = [];
      let errors = 0;
      const cpu0 = treeCpuSeconds(child.pid!);
      const machine0 = machineBusySeconds();
      const self0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + DURATION * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async (_, w) => {
          for (let n = 0; performance.now() < end; n++) {
            const s = performance.now();
            try {
              await call(w, n);
              latencies.push(performance.now() - s);
            } catch {
              errors++;
            }
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      const cpu = treeCpuSeconds(child.pid!) - cpu0;
      const self = process.cpuUsage(self0);
      const others = machineBusySeconds() - machine0 - cpu - (self.user + self.system) / 1e6;
      for (const c of channels) c.close();
      latencies.sort((a, b) => a - b);
      results.push({
        workers,
        verifier,
        concurrency,
        rate: latencies.length / secs,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        errors,
        cpuMsPerCert: (cpu * 1000) / Math.max(1, latencies.length),
        rssMiB: treePeakRssMiB(child.pid!),
        othersCpus: Math.max(0, others / secs),
      });
    }
    return results;
  } finally {
    await stopChild(child);
  }
}

/** Waits for the identity service's start-up line and returns the CSR verifier it names. */
async function serverVerifier(logFile: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('identity service listening'));
    if (line) return (JSON.parse(line) as { csr_verifier?: string }).csr_verifier ?? '?';
    if (Date.now() > deadline) throw new Error(`the identity service did not start within ${timeoutMs} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface CfsslResult {
  certs_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  note: string;
}

/** cfssl's signing server through the shared peer scripts, when they and cfssl are present. */
async function cfsslPeer(): Promise<CfsslResult | null> {
  const peers = resolve(packageRoot(), '..', 'shared', 'bench', 'peers');
  if (process.env.SKIP_CFSSL || !existsSync(join(peers, 'ca-bench.sh'))) return null;
  const which = await run('sh', ['-c', 'command -v cfssl']);
  if (which.code !== 0) return null;
  const out = mkdtempSync(join(tmpdir(), 'lanyard-bench-peers-'));
  try {
    // A free port unless told otherwise: the peers' fixed default may be taken on a shared machine.
    const env = { ...process.env, OUT: out, DURATION: String(Math.max(DURATION, 5)), CFSSL_PORT: process.env.CFSSL_PORT ?? String(await freePort()) };
    for (const args of [['certs.sh'], ['ca-bench.sh', 'prepare'], ['ca-bench.sh', 'cfssl', '1']]) {
      const r = await run('bash', [join(peers, args[0]), ...args.slice(1)], { env, cwd: peers });
      if (r.code !== 0) {
        console.error(`cfssl peer: ${args.join(' ')} failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
        return null;
      }
      if (args[1] === 'cfssl') {
        const line = r.stdout.split('\n').find((l) => l.includes('"bench":"cfssl"'));
        if (!line) return null;
        const j = JSON.parse(line) as CfsslResult & { conc: number };
        return { ...j, note: `${j.conc} concurrent HTTP POSTs, no token check` };
      }
    }
    return null;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
