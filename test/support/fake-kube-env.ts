/**
 * One-line set-up for tests against the fake API server: the server, a temp dir with a
 * kubeconfig for it, and a logger whose lines the test can read back as objects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { FakeKubeApi, type FakeKubeApiConfig } from './fake-kube-api.js';
import { writeKubeconfig } from './kubeconfig.js';

export interface FakeKubeEnv {
  api: FakeKubeApi;
  dir: string;
  /** Path of a kubeconfig that reaches `api` with its admin token. */
  kubeconfig: string;
  logger: Logger;
  /** Every log line written through `logger`, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startFakeKubeEnv(cfg: FakeKubeApiConfig = {}): Promise<FakeKubeEnv> {
  const api = await FakeKubeApi.start(cfg);
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-k8s-'));
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    component: 'test',
    level: 'debug',
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return {
    api,
    dir,
    kubeconfig: writeKubeconfig(dir, api),
    logger,
    logs,
    stop: async () => {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
