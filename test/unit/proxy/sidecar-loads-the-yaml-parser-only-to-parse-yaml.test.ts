/**
 * What the sidecar loads is paid in every pod (README, Memory): its module graph (the built
 * dist/, as it runs) does not load the YAML parser until a YAML text is parsed, and does not
 * load prom-client. Checked in a fresh node process, whose CommonJS module cache lists every
 * package file it has loaded.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../support/cli.js';

function loadedAfter(script: string): Promise<string[]> {
  const program = `
    import { createRequire } from 'node:module';
    const dist = ${JSON.stringify(join(ROOT, 'dist'))};
    await import(dist + '/proxy/sidecar-proxy.js');
    ${script}
    const cache = createRequire(import.meta.url).cache;
    const pkgs = new Set(Object.keys(cache).map((f) => /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean));
    console.log(JSON.stringify([...pkgs].sort()));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', program], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as string[]);
    });
  });
}

test('the sidecar loads no YAML parser and no prom-client until it parses YAML', async () => {
  const loaded = await loadedAfter('');
  expect(loaded).toContain('pino'); // the cache does list what is loaded
  expect(loaded).not.toContain('yaml');
  expect(loaded).not.toContain('prom-client');
});

test('parsing routes given as YAML loads the parser then', async () => {
  const loaded = await loadedAfter(`
    const { parseRoutes } = await import(dist + '/proxy/outbound/routes.js');
    const routes = parseRoutes('[{listen: 127.0.0.1:18081, upstream: 127.0.0.1:18443, identity: web.default.serviceaccount.identity.mesh.cluster.local}]', 'test');
    if (routes.length !== 1) throw new Error('routes not parsed');`);
  expect(loaded).toContain('yaml');
});
