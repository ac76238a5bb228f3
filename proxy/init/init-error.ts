/**
 * Errors of `lanyard proxy-init`, with stable codes so callers and tests can tell a bad flag
 * from a missing permission or a missing binary without matching message text.
 */
export type ProxyInitErrorCode =
  /** A flag or LANYARD_INIT_* value is malformed; the message names it. */
  | 'ERR_INIT_FLAG'
  /** The process lacks a capability (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN); the message names it. */
  | 'ERR_INIT_NOT_PERMITTED'
  /** iptables, its save tool or `ip` is not installed; the message names the binary and package. */
  | 'ERR_INIT_MISSING_BINARY'
  /** `--ipv6 on` was asked for but ip6tables cannot use the nat table here. */
  | 'ERR_INIT_IPV6_UNAVAILABLE'
  /** A rule Lanyard did not write jumps into one of its chains, so the chain cannot be removed. */
  | 'ERR_INIT_FOREIGN_REFERENCE'
  /** An iptables command failed for another reason; the message carries the command and its stderr. */
  | 'ERR_INIT_COMMAND_FAILED';

export class ProxyInitError extends Error {
  constructor(
    readonly code: ProxyInitErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyInitError';
  }
}
