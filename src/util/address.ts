/**
 * Network addresses: `host:port`, `[ipv6]:port`, and for listeners `:port` (all IPv4
 * interfaces, as Go's net.Listen reads it). The host is an IPv4 address, a bracketed IPv6
 * address, or a DNS name (`localhost` included). Port 0 (any free port) is allowed only
 * for listeners; a dial address needs a host and a real port.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { quote, ValueError } from './value-error.js';

export interface HostPort {
  host: string;
  port: number;
}

export type AddressRole = 'listen' | 'dial';

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function isHostName(h: string): boolean {
  return h.length <= 253 && h.split('.').every((l) => DNS_LABEL.test(l)) && !/^[\d.]+$/.test(h);
}

export function parseAddress(text: string, role: AddressRole): HostPort {
  const v = text.trim();
  const example = role === 'listen' ? '0.0.0.0:4143, :4143 or [::]:4143' : '127.0.0.1:8080, [::1]:8080 or identity.lanyard.svc:8080';
  const bad = (why: string) => new ValueError(`${why}; expected ${role === 'listen' ? 'a listen' : 'an'} address host:port such as ${example}, got ${quote(text)}`);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(v);
  if (!m) throw bad(v.includes(':') ? 'an IPv6 address needs brackets' : 'no port');
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && !isIPv6(host)) throw bad(`${quote(host)} is not an IPv6 address`);
  if (m[2] !== undefined && host !== '' && !isIPv4(host) && !isHostName(host)) throw bad(`${quote(host)} is not an IPv4 address or a DNS name`);
  if (host === '' && role === 'dial') throw bad('a host is needed to connect to');
  if (!/^\d{1,5}$/.test(m[3])) throw bad(`${quote(m[3])} is not a port`);
  const port = Number(m[3]);
  if (port > 65535) throw bad('port above 65535');
  if (port === 0 && role === 'dial') throw bad('port 0 can only be listened on');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** A TCP port on its own (`8080`), from 1 to 65535: what an application or a rule names. */
export function parsePort(text: string): number {
  const v = text.trim();
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new ValueError(`expected a TCP port from 1 to 65535, got ${quote(text)}`);
  return n;
}

export function formatAddress(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * True for hosts only this machine can reach: `localhost`, 127.0.0.0/8, `::1` (and the
 * IPv4-mapped `::ffff:127.x.y.z`). What may go without TLS: nothing on a network path sees it.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}
