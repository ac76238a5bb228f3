/**
 * Plain GETs against the API server with the kubeconfig's TLS and credentials, for the
 * paths the generated client does not serve well: watches (see watch-stream.ts) and the
 * lists that seed them. Lists are fetched as raw JSON on purpose: the generated client
 * turns timestamps into Date objects while watch events arrive as plain JSON, and a cache
 * fed by both would hold two shapes of the same object.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { fromHttpStatus, K8sError, statusBodyOf } from './errors.js';
import type { CallOptions, K8sClient } from './k8s-client.js';

export type Query = Record<string, string | number | boolean | undefined>;

/** Sends GET <server><path>?<query>; resolves with the response once its headers are in. */
export async function openGet(kc: KubeConfig, path: string, query: Query, signal: AbortSignal): Promise<http.IncomingMessage> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new K8sError('ERR_K8S_CONFIG', 'kubeConfig has no current cluster');
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  if (signal.aborted) throw signal.reason;
  const lib = url.protocol === 'http:' ? http : https;
  const req = lib.request(url, {
    method: 'GET',
    agent: opts.agent,
    auth: opts.auth,
    headers: { ...(opts.headers as Record<string, string> | undefined), Accept: 'application/json' },
    signal,
  });
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', (err) => reject(signal.aborted ? signal.reason : err));
    req.end();
  });
}

/** Reads a response body, at most `limit` bytes (the rest is an error). */
export function readBody(res: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return res.destroy(new K8sError('ERR_K8S_MALFORMED', `response body exceeds ${limit} bytes`));
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The error a non-200 response stands for, with the Status message the server sent. */
export async function errorOf(res: http.IncomingMessage, what: string, server: string): Promise<K8sError> {
  const body = await readBody(res, 64 * 1024).catch(() => '');
  const retryAfter = Number(res.headers['retry-after']);
  return fromHttpStatus(res.statusCode ?? 0, statusBodyOf(body), what, server, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined);
}

/** A list bigger than this is refused rather than buffered; page with labelSelector instead. */
const MAX_LIST_BYTES = 256 * 1024 * 1024;

/** GET a path as JSON, under the client's rate limit, deadline and 429 retries. */
export function getJson<T>(client: K8sClient, path: string, query: Query = {}, opts?: CallOptions): Promise<T> {
  const what = `get ${path}`;
  return client.call(
    what,
    async (_options, signal) => {
      const res = await openGet(client.kubeConfig, path, query, signal);
      if (res.statusCode !== 200) throw await errorOf(res, what, client.server);
      const text = await readBody(res, MAX_LIST_BYTES);
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new K8sError('ERR_K8S_MALFORMED', `${what}: the answer from ${client.server} is not JSON`);
      }
    },
    opts,
  );
}
