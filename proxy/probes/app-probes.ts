/**
 * The application's kubelet probes that injection moved to the proxy's admin port, as the
 * proxy receives them (`LANYARD_PROXY_APP_PROBES`, JSON written by `lanyard inject` and the
 * injector):
 *
 *   {"/app-health/web/readiness": {"port": 8080, "timeoutSeconds": 1,
 *                                  "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
 *                                              "httpHeaders": [{"name": "X-Probe", "value": "1"}]}},
 *    "/app-health/web/liveness":  {"port": 8080, "timeoutSeconds": 1, "tcpSocket": {"port": 8080}}}
 *
 * Why: the kubelet probes from the node in plaintext, so under a `deny` (or any
 * authenticated-only) inbound policy the proxy would refuse them and the pod would never be
 * ready. The admin port is not redirected and the proxy, not the caller, decides what is
 * probed: the request's own path and headers are never forwarded, only the probe the pod
 * spec declared. `httpGet` / `tcpSocket` are the container's original action, kept verbatim
 * so uninjection restores it; `port` is its port resolved to a number (a named port is
 * resolved against the container's ports at injection). Pure: text in, checked probes out.
 */
import { quote, ValueError } from '../../src/util/value-error.js';

export const APP_PROBE_PREFIX = '/app-health/';

export interface AppProbe {
  kind: 'http' | 'tcp';
  port: number;
  /** HTTP only: path (with query) and scheme; HTTPS is not verified, as the kubelet does not. */
  path: string;
  scheme: 'http' | 'https';
  headers: { name: string; value: string }[];
  timeoutMs: number;
}

/** Admin path -> probe. */
export type AppProbes = ReadonlyMap<string, AppProbe>;

/** The JSON shape of one entry (what inject writes). */
export interface AppProbeEntry {
  port: number;
  timeoutSeconds?: number;
  httpGet?: { path?: string; port?: number | string; scheme?: string; host?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port?: number | string; host?: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// RFC 9110 token: what a header name may be (a bad one would make node throw per request).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A probe path is sent as the request target: no spaces or control characters.
const REQUEST_TARGET = /^\/[\x21-\x7e]*$/;

/** Admin path of a container's probe: `/app-health/<container>/<readiness|liveness|startup>`. */
export function appProbePath(container: string, kind: 'readiness' | 'liveness' | 'startup'): string {
  return `${APP_PROBE_PREFIX}${container}/${kind}`;
}

/** @throws ValueError naming the entry and field */
export function parseAppProbes(text: string): AppProbes {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ValueError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ValueError('expected a JSON object of admin path -> probe');
  const out = new Map<string, AppProbe>();
  for (const [path, entry] of Object.entries(doc)) {
    const at = (msg: string) => new ValueError(`${quote(path)}: ${msg}`);
    if (!path.startsWith(APP_PROBE_PREFIX) || !REQUEST_TARGET.test(path)) throw at(`expected a path under ${APP_PROBE_PREFIX}`);
    if (!isObject(entry)) throw at('expected an object');
    out.set(path, checkEntry(entry, at));
  }
  return out;
}

function checkEntry(e: Record<string, unknown>, at: (msg: string) => ValueError): AppProbe {
  const port = typeof e.port === 'number' ? e.port : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw at('port: expected a TCP port number 1-65535');
  const seconds = e.timeoutSeconds === undefined ? 1 : typeof e.timeoutSeconds === 'number' ? e.timeoutSeconds : NaN;
  // The kubelet's own bound (timeoutSeconds, minimum 1) is the bound on the proxy's attempt.
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) throw at('timeoutSeconds: expected an integer from 1 to 3600');
  const timeoutMs = seconds * 1000;
  const { httpGet, tcpSocket } = e;
  if ((httpGet === undefined) === (tcpSocket === undefined)) throw at('expected exactly one of httpGet and tcpSocket');
  if (tcpSocket !== undefined) {
    if (!isObject(tcpSocket)) throw at('tcpSocket: expected an object');
    return { kind: 'tcp', port, path: '', scheme: 'http', headers: [], timeoutMs };
  }
  if (!isObject(httpGet)) throw at('httpGet: expected an object');
  const path = httpGet.path === undefined ? '/' : httpGet.path;
  if (typeof path !== 'string' || !REQUEST_TARGET.test(path)) throw at(`httpGet.path: expected an absolute path without spaces, got ${quote(String(path))}`);
  const scheme = String(httpGet.scheme ?? 'HTTP').toUpperCase();
  if (scheme !== 'HTTP' && scheme !== 'HTTPS') throw at(`httpGet.scheme: expected HTTP or HTTPS, got ${quote(scheme)}`);
  const headers = httpGet.httpHeaders ?? [];
  if (!Array.isArray(headers)) throw at('httpGet.httpHeaders: expected a list');
  const checked = headers.map((h: unknown, i) => {
    if (!isObject(h) || typeof h.name !== 'string' || !TOKEN.test(h.name) || typeof h.value !== 'string' || /[\r\n\0]/.test(h.value)) {
      throw at(`httpGet.httpHeaders[${i}]: expected {name: <header name>, value: <one line>}`);
    }
    return { name: h.name, value: h.value };
  });
  return { kind: 'http', port, path, scheme: scheme === 'HTTPS' ? 'https' : 'http', headers: checked, timeoutMs };
}
