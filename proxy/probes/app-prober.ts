/**
 * Runs the application's probes that injection moved to the admin port (app-probes.ts) the
 * way the kubelet would have: HTTP(S) GET or TCP connect to the pod's own address and the
 * container's port, bounded by the probe's timeoutSeconds. The proxy runs as the UID
 * proxy-init leaves alone, so the attempt reaches the application directly and never meets
 * the inbound policy. Only the status crosses back: the app's status code (the kubelet
 * counts 200-399 as success), or 503 with why the attempt failed; no body or header of the
 * app's answer is relayed.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Logger } from '../../src/telemetry/logger.js';
import type { AppProbe, AppProbes } from './app-probes.js';

export interface ProbeAnswer {
  code: number;
  body: string;
}

export interface AppProberConfig {
  probes: AppProbes;
  /** The pod's IP, where the kubelet sent its probes (127.0.0.1 outside a pod). */
  host: string;
  logger: Logger;
}

/** What the kubelet sends unless the probe's httpHeaders say otherwise. */
const DEFAULT_HEADERS = { 'user-agent': 'kube-probe/lanyard-proxy', accept: '*/*' };

export class AppProber {
  /** One attempt at a time per probe: callers that arrive while it runs share its answer. */
  private readonly inFlight = new Map<string, Promise<ProbeAnswer>>();

  constructor(private readonly cfg: AppProberConfig) {}

  /**
   * Admin path -> handler, for AdminServer's textRoutes. The admin port is reachable by
   * anyone who can reach the pod, so a flood of requests must not become a flood of
   * connections to the app: concurrent requests for one probe share one attempt.
   */
  routes(): Map<string, () => Promise<ProbeAnswer>> {
    return new Map([...this.cfg.probes].map(([path, probe]) => [path, () => this.shared(path, probe)]));
  }

  private shared(path: string, probe: AppProbe): Promise<ProbeAnswer> {
    let p = this.inFlight.get(path);
    if (!p) {
      p = this.run(path, probe).finally(() => this.inFlight.delete(path));
      this.inFlight.set(path, p);
    }
    return p;
  }

  private async run(path: string, probe: AppProbe): Promise<ProbeAnswer> {
    const failure = await (probe.kind === 'tcp' ? this.tcp(probe) : this.http(probe)).catch((e: Error) => e);
    if (failure instanceof Error) {
      this.cfg.logger.debug({ event: 'app_probe', path, port: probe.port, result: 'error', reason: failure.message }, 'application probe failed');
      return { code: 503, body: `probe of port ${probe.port} failed: ${failure.message}\n` };
    }
    if (failure >= 400) this.cfg.logger.debug({ event: 'app_probe', path, port: probe.port, result: 'refused', status: failure }, 'application probe answered with a failure');
    return { code: failure, body: `application answered ${failure}\n` };
  }

  /** Resolves to 200 once connected. */
  private tcp(probe: AppProbe): Promise<number> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.cfg.host, port: probe.port });
      const timer = setTimeout(() => (s.destroy(), reject(new Error(`no connection within ${probe.timeoutMs} ms`))), probe.timeoutMs);
      s.once('connect', () => (clearTimeout(timer), s.destroy(), resolve(200)));
      s.once('error', (e) => (clearTimeout(timer), reject(e)));
    });
  }

  /** Resolves to the status code; the body is read and dropped, within the same bound. */
  private http(probe: AppProbe): Promise<number> {
    const headers: Record<string, string> = { ...DEFAULT_HEADERS };
    for (const h of probe.headers) headers[h.name.toLowerCase()] = h.value;
    const options = { host: this.cfg.host, port: probe.port, path: probe.path, method: 'GET', headers, agent: false as const };
    return new Promise((resolve, reject) => {
      let req: ClientRequest;
      const onResponse = (res: IncomingMessage) => {
        resolve(res.statusCode ?? 502);
        res.resume();
      };
      // The kubelet does not verify an HTTPS probe's certificate either.
      if (probe.scheme === 'https') req = httpsRequest({ ...options, rejectUnauthorized: false }, onResponse);
      else req = httpRequest(options, onResponse);
      // Every wait is bounded: a hung app (or a body that never ends) loses its socket.
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${probe.timeoutMs} ms`)), probe.timeoutMs);
      req.once('close', () => clearTimeout(timer));
      req.once('error', reject);
      req.end();
    });
  }
}
