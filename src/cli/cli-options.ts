/**
 * Option builders: every option that holds a duration, address, integer, boolean or choice
 * is made here, so its value (from the flag or from its variable) is parsed by src/util's
 * grammar at parse time and a bad one is a usage error naming both. The variable is given
 * to commander once (`.env()`), which prints it in --help once: `(default: …, env: X)`.
 *
 * Placeholders say what the value is: `<host:port>`, `<duration>`, `<n>`, `<port>`,
 * `<file>`, `<dir>`, or a word for a choice (`<kind>`, `<format>`).
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { parseAddress, type AddressRole, type HostPort } from '../util/address.js';
import { parseDuration } from '../util/duration.js';
import { isDnsLabel, isDnsName, TrustDomain } from '../pki/names.js';
import { parseChoice, parseInteger, quote, ValueError } from '../util/value-error.js';
import { formatDuration } from '../util/duration.js';
import { parseFlag, setKind, UsageError, type ValueKind } from './cli-conventions.js';

export interface ValueSpec {
  /** The environment variable the value may come from; the flag wins. */
  env?: string;
  /** The default, as the operator would type it (shown in --help). */
  default?: string;
  /** How --help shows the default, when not as typed (a path relative to the package). */
  defaultDescription?: string;
}

/** An option whose value `parse` (a src/util parser, or one built on them) checks. */
export function valueOption<T>(flags: string, description: string, kind: ValueKind, spec: ValueSpec, parse: (text: string) => T): Option {
  return build(flags, description, kind, spec, parse);
}

function build<T>(flags: string, description: string, kind: ValueKind, spec: ValueSpec, parse?: (text: string) => T): Option {
  const o = new Option(flags, description);
  const flag = o.long ?? o.flags;
  if (spec.env) o.env(spec.env);
  if (parse) {
    o.argParser((text: string) => parseFlag(flag, spec.env, () => parse(text)));
    if (spec.default !== undefined) o.default(parseFlag(flag, spec.env, () => parse(spec.default!)), spec.defaultDescription ?? spec.default);
  } else if (spec.default !== undefined) {
    o.default(spec.default, spec.defaultDescription ?? spec.default);
  }
  return setKind(o, kind);
}

/** `--addr <host:port>`: a listen address (`:8080`, port 0 allowed) or a dial address. */
export function addressOption(flags: string, description: string, role: AddressRole, spec: ValueSpec = {}): Option {
  return build<HostPort>(flags, description, 'address', spec, (t) => parseAddress(t, role));
}

/** `--ttl <duration>`, in milliseconds; `min` refuses shorter values (0 allowed only when min is 0). */
export function durationOption(flags: string, description: string, spec: ValueSpec & { min?: number } = {}): Option {
  const min = spec.min ?? 0;
  return build<number>(flags, description, 'duration', spec, (t) => {
    const ms = parseDuration(t);
    if (ms < min) throw new ValueError(`must be at least ${formatDuration(min)}, got ${JSON.stringify(t.trim())}`);
    return ms;
  });
}

/** `--kube-qps <n>`: decimal digits within [min, max]. */
export function integerOption(flags: string, description: string, spec: ValueSpec & { min?: number; max?: number } = {}): Option {
  return build<number>(flags, description, 'integer', spec, (t) => parseInteger(t, spec.min ?? 0, spec.max));
}

/** `--validator <kind>`: one of `choices`, listed in --help. */
export function choiceOption<T extends string>(flags: string, description: string, choices: readonly T[], spec: ValueSpec = {}): Option {
  const o = build<T>(flags, description, 'choice', spec, (t) => parseChoice(t, choices));
  o.argChoices = [...choices];
  return o;
}

/** `--issuer-dir <dir>`, `--token-file <file>`, `--trust-anchors <path>` (file or directory): a path, checked when it is used. */
export function pathOption(flags: string, description: string, spec: ValueSpec = {}): Option {
  const kind: ValueKind = /<dir>|\[dir\]/.test(flags) ? 'dir' : 'file';
  return build<string>(flags, description, kind, spec);
}

/** `--trust-domain <domain>`: text the command checks itself (a name, a URL). */
export function textOption(flags: string, description: string, spec: ValueSpec = {}): Option {
  return build<string>(flags, description, 'text', spec);
}

/**
 * `--linkerd`, `--no-mux`: a flag without a value. Its variable holds true or false (any
 * word parseBoolean knows); applyConventions reads it, since commander alone would turn
 * the flag on for any value, `false` included.
 */
export function flagOption(flags: string, description: string, spec: { env?: string } = {}): Option {
  const o = new Option(flags, description);
  if (spec.env) o.env(spec.env);
  return setKind(o, 'boolean');
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `--log-level <level>` (env LANYARD_LOG_LEVEL), shared by the long-running commands. */
export function logLevelOption(): Option {
  return choiceOption('--log-level <level>', 'log level', LOG_LEVELS, { env: 'LANYARD_LOG_LEVEL', default: 'info' });
}

/** `--trust-domain <domain>` (env LANYARD_TRUST_DOMAIN). */
export function trustDomainOption(description = 'trust domain of identities and SPIFFE IDs'): Option {
  return textOption('--trust-domain <domain>', description, { env: 'LANYARD_TRUST_DOMAIN', default: 'cluster.local' });
}

/**
 * Reads a file an option names; a missing or unreadable file is a usage error naming the
 * option and its variable (`--jwks-ca (env LANYARD_IDENTITY_JWKS_CA): cannot read x: ENOENT`).
 */
export function readOptionFile(flag: string, env: string | undefined, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const where = env ? `${flag} (env ${env})` : flag;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'a directory, expected a file' : (err.code ?? err.message);
    throw new UsageError(`${where}: cannot read ${path}: ${why}`);
  }
}

/**
 * The trust domain and control namespace from --trust-domain and --control-namespace
 * (LANYARD_TRUST_DOMAIN, LANYARD_CONTROL_NAMESPACE); a bad one is a usage error naming it.
 */
export function trustDomainFrom(domain: string, controlNamespace: string): TrustDomain {
  if (!isDnsName(domain)) throw new UsageError(`--trust-domain (env LANYARD_TRUST_DOMAIN): expected a DNS name of lower-case labels, got ${quote(domain)}`);
  if (!isDnsLabel(controlNamespace)) throw new UsageError(`--control-namespace (env LANYARD_CONTROL_NAMESPACE): expected a DNS-1123 label, got ${quote(controlNamespace)}`);
  return new TrustDomain(domain, controlNamespace);
}
