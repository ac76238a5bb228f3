/**
 * A GET to a Lanyard admin port (`/ready`, `/identity`, `/metrics`) with node:http rather than
 * fetch: fetch refuses a list of "bad ports" (4190, 6000, 10080, ...) that an operator is free
 * to give an admin listener, and hides socket errors behind "fetch failed".
 */
import { get } from 'node:http';

export interface AdminAnswer {
  status: number;
  /** The `Date` header, for clock skew; null when absent. */
  date: string | null;
  body: string;
}

/** Largest body read: /metrics of a busy proxy is well under this. */
const MAX_BODY = 8 * 1024 * 1024;

/** GET http://`address``path`; rejects with an Error saying what failed (`connection refused`, `no answer within 5000 ms`). */
export function adminGet(address: string, path: string, timeoutMs = 5000): Promise<AdminAnswer> {
  return new Promise((resolve, reject) => {
    const req = get(`http://${address}${path}`, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`${path} answered more than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, date: res.headers.date ?? null, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(describe(e)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(describe(e)));
  });
}

function describe(e: NodeJS.ErrnoException): Error {
  if (e.code === 'ECONNREFUSED') return new Error('connection refused');
  if (e.code === 'ECONNRESET') return new Error('connection reset');
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' || e.code === 'ETIMEDOUT') return new Error(`${e.code}: the address does not route from here`);
  return e.code ? new Error(`${e.code}: ${e.message}`) : e;
}
