/**
 * A fake Kubernetes API server for tests: HTTPS on 127.0.0.1 with a throwaway certificate,
 * bearer-token auth, and the real JSON of the calls Lanyard makes, so code under test
 * reaches it through @kubernetes/client-node and a kubeconfig exactly as a real cluster:
 *
 *   POST /apis/authentication.k8s.io/v1/tokenreviews           tokens registered by the test
 *   POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews allow/deny set by the test
 *   GET  /api/v1/pods, /api/v1/namespaces/{ns}/pods             list, and ?watch=true
 *   API discovery, create and get of the kinds in fake-kube-resources.ts (`resources`), so
 *   manifests can be applied with KubernetesObjectApi
 *
 * Controls: addPod/modifyPod/deletePod, compact() (older resourceVersions get 410),
 * fault(route, ...) for latency, hangs, 5xx/429 and malformed bodies, closeWatches(),
 * requestCount(route). Always `await api.stop()` (it destroys hung requests and streams).
 *
 *   const api = await FakeKubeApi.start();
 *   api.addToken('tok-web', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });
 *   const kubeconfig = writeKubeconfig(dir, api);
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServingCert } from './fake-kube-tls.js';
import { FakeObjectStore, type Obj } from './fake-object-store.js';
import { json, readJson, reasonOf, status } from './fake-kube-http.js';
import { bookmark, listPods, watchPods, type WatchHandle } from './fake-pod-watch.js';
import { FakeResources, resourceRouteOf } from './fake-kube-resources.js';

export type Route = 'tokenreviews' | 'selfsubjectaccessreviews' | 'pods-list' | 'pods-watch' | 'resources';

/** Who a registered token belongs to. */
export interface FakeTokenIdentity {
  username: string;
  uid?: string;
  groups?: string[];
  /** Audiences the token was minted for. Default: the API server's own (`apiAudience`). */
  audiences?: string[];
}

export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[] };
  audiences?: string[];
  error?: string;
}

export interface ResourceAttributes {
  verb?: string;
  group?: string;
  resource?: string;
  namespace?: string;
  name?: string;
}
export type AccessDecision = boolean | { allowed: boolean; reason?: string };

/** How to misbehave on a route. */
export interface Fault {
  /** Answer with this HTTP status (and a Status body unless `body` is given). */
  status?: number;
  /** Raw body (a string is sent as is, e.g. to send malformed JSON). */
  body?: unknown;
  contentType?: string;
  /** Retry-After header, in seconds (with status 429). */
  retryAfterSeconds?: number;
  /** Wait this long, then answer (normally, unless `status` is set). */
  delayMs?: number;
  /** Never answer (until stop()). */
  hang?: boolean;
  /** Apply to this many requests, then stop. Default: every request until clearFaults(). */
  times?: number;
}

export interface FakeKubeApiConfig {
  /** Bearer token clients must present. Default: random. */
  adminToken?: string;
  /** The API server's own audience. Default `https://kubernetes.default.svc.cluster.local`. */
  apiAudience?: string;
  /** Send a BOOKMARK to watches that allow them every N ms. Default 0 (only via sendBookmarks()). */
  bookmarkIntervalMs?: number;
}

export class FakeKubeApi {
  readonly pods = new FakeObjectStore('v1', 'Pod');
  /** Every other kind: namespaces, deployments, RBAC, webhooks, ... */
  readonly resources = new FakeResources();
  readonly requests: { method: string; path: string; route: Route | 'other'; at: number }[] = [];
  private readonly tokens = new Map<string, FakeTokenIdentity>();
  private tokenReviewHandler: ((spec: { token: string; audiences?: string[] }) => TokenReviewStatus) | null = null;
  private access: (attrs: ResourceAttributes) => AccessDecision = () => true;
  private readonly faults = new Map<Route, Fault>();
  private readonly watches = new Set<WatchHandle>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private bookmarkTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly caPem: string,
    readonly adminToken: string,
    readonly apiAudience: string,
  ) {}

  static async start(cfg: FakeKubeApiConfig = {}): Promise<FakeKubeApi> {
    const cert = await createServingCert();
    const server = createServer({ cert: cert.certPem, key: cert.keyPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const api = new FakeKubeApi(
      server,
      `https://127.0.0.1:${port}`,
      cert.certPem,
      cfg.adminToken ?? randomBytes(16).toString('hex'),
      cfg.apiAudience ?? 'https://kubernetes.default.svc.cluster.local',
    );
    server.on('secureConnection', (s: Socket) => {
      api.sockets.add(s);
      s.on('close', () => api.sockets.delete(s));
    });
    server.on('request', (req, res) => api.handle(req, res));
    if (cfg.bookmarkIntervalMs) api.bookmarkTimer = setInterval(() => api.sendBookmarks(), cfg.bookmarkIntervalMs);
    return api;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  addToken(token: string, identity: FakeTokenIdentity): void {
    this.tokens.set(token, identity);
  }

  /** Answers every TokenReview with the handler's status instead of the token registry (null to undo). */
  onTokenReview(handler: ((spec: { token: string; audiences?: string[] }) => TokenReviewStatus) | null): void {
    this.tokenReviewHandler = handler;
  }

  /** Decides SelfSubjectAccessReviews: a constant or a function of the attributes. Default: allow all. */
  setAccess(decision: AccessDecision | ((attrs: ResourceAttributes) => AccessDecision)): void {
    this.access = typeof decision === 'function' ? decision : () => decision;
  }

  addPod(pod: { metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown }): Obj {
    return this.pods.add(pod);
  }

  modifyPod(namespace: string, name: string, mutate: (pod: Obj) => void): Obj {
    return this.pods.modify(namespace, name, mutate);
  }

  deletePod(namespace: string, name: string): Obj {
    return this.pods.delete(namespace, name);
  }

  /** Forgets the event history: watches from an older resourceVersion now get 410 Gone. */
  compact(): void {
    this.pods.compact();
  }

  fault(route: Route, fault: Fault): void {
    this.faults.set(route, { ...fault });
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Ends every open watch (cleanly, or by destroying the socket); returns how many. */
  closeWatches(opts: { abrupt?: boolean } = {}): number {
    const open = [...this.watches];
    open.forEach((w) => w.end(opts.abrupt));
    return open.length;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  sendBookmarks(): void {
    this.watches.forEach((w) => bookmark(this.pods, w));
  }

  requestCount(route?: Route): number {
    return route ? this.requests.filter((r) => r.route === route).length : this.requests.length;
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    this.timers.forEach(clearTimeout);
    this.closeWatches();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.sockets.forEach((s) => s.destroy());
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const route = routeOf(req.method ?? '', url);
    this.requests.push({ method: req.method ?? '', path: url.pathname, route: route?.name ?? 'other', at: Date.now() });
    if (req.headers.authorization !== `Bearer ${this.adminToken}`) {
      return json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    if (!route) return json(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`));
    const fault = this.takeFault(route.name);
    if (fault?.hang) return;
    const go = (): void => {
      if (fault?.status !== undefined || fault?.body !== undefined) return this.misbehave(res, fault);
      this.serve(route, url, req, res);
    };
    if (fault?.delayMs) {
      const t = setTimeout(() => (this.timers.delete(t), go()), fault.delayMs);
      this.timers.add(t);
    } else go();
  }

  private serve(route: { name: Route; namespace?: string }, url: URL, req: IncomingMessage, res: ServerResponse): void {
    if (route.name === 'resources') {
      const r = resourceRouteOf(url.pathname);
      return r ? this.resources.handle(req.method ?? '', r, req, res) : json(res, 404, status(404, 'NotFound', 'not found'));
    }
    try {
      if (route.name === 'pods-list') return listPods(this.pods, route.namespace, url.searchParams, res);
      if (route.name === 'pods-watch') return watchPods(this.pods, route.namespace, url.searchParams, req, res, this.watches);
    } catch (err) {
      return json(res, 400, status(400, 'BadRequest', (err as Error).message));
    }
    readJson(req).then(
      (body) => {
        if (route.name === 'tokenreviews') this.tokenReview(body, res);
        else this.accessReview(body, res);
      },
      () => json(res, 400, status(400, 'BadRequest', 'the request body is not JSON')),
    );
  }

  private tokenReview(body: Record<string, any>, res: ServerResponse): void {
    const spec = body?.spec ?? {};
    if (body?.kind !== 'TokenReview' || typeof spec.token !== 'string' || spec.token === '') {
      return json(res, 400, status(400, 'BadRequest', 'TokenReview.authentication.k8s.io is invalid: spec.token: Required value'));
    }
    const result = this.tokenReviewHandler ? this.tokenReviewHandler(spec) : this.review(spec.token, spec.audiences);
    json(res, 201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: result });
  }

  /** As the real authenticator: valid for the intersection of the token's and the requested audiences. */
  private review(token: string, requested: string[] | undefined): TokenReviewStatus {
    const id = this.tokens.get(token);
    if (!id) return { authenticated: false, user: {}, error: '[invalid bearer token, token not recognised by the fake API server]' };
    const wanted = requested?.length ? requested : [this.apiAudience];
    const minted = id.audiences ?? [this.apiAudience];
    const audiences = wanted.filter((a) => minted.includes(a));
    if (audiences.length === 0) {
      return { authenticated: false, user: {}, error: `[invalid bearer token, token audiences ${JSON.stringify(minted)} is invalid for the target audiences ${JSON.stringify(wanted)}]` };
    }
    return { authenticated: true, user: { username: id.username, uid: id.uid ?? 'uid-' + id.username, groups: id.groups ?? [] }, audiences };
  }

  private accessReview(body: Record<string, any>, res: ServerResponse): void {
    const attrs: ResourceAttributes = body?.spec?.resourceAttributes ?? {};
    const d = this.access(attrs);
    const decision = typeof d === 'boolean' ? { allowed: d } : d;
    json(res, 201, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: body?.spec ?? {},
      status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
    });
  }

  private takeFault(route: Route): Fault | undefined {
    const f = this.faults.get(route);
    if (!f) return undefined;
    if (f.times !== undefined && --f.times <= 0) this.faults.delete(route);
    return f;
  }

  private misbehave(res: ServerResponse, f: Fault): void {
    const code = f.status ?? 200;
    const headers: Record<string, string> = f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {};
    if (f.body === undefined) return json(res, code, status(code, reasonOf(code), `fake API server fault: HTTP ${code}`), headers);
    const text = typeof f.body === 'string' ? f.body : JSON.stringify(f.body);
    res.writeHead(code, { 'Content-Type': f.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
}

function routeOf(method: string, url: URL): { name: Route; namespace?: string } | null {
  const p = url.pathname;
  if (method === 'POST' && p === '/apis/authentication.k8s.io/v1/tokenreviews') return { name: 'tokenreviews' };
  if (method === 'POST' && p === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') return { name: 'selfsubjectaccessreviews' };
  const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(p);
  if (method === 'GET' && m) {
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    return { name: watch ? 'pods-watch' : 'pods-list', namespace: m[1] ? decodeURIComponent(m[1]) : undefined };
  }
  if (resourceRouteOf(p)) return { name: 'resources' };
  return null;
}
