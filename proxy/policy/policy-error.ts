/**
 * A policy that cannot be used: bad syntax, a bad value, or a file that cannot be read.
 * The message always says where: the source (file or environment variable), then the exact
 * path inside the document, e.g.
 *   policy file /etc/lanyard/policy.yaml: ports.8080.allow[1].networks[0]: "10.0.0.0/33" is not a CIDR
 */
export type PolicyErrorCode =
  /** A value is wrong: unknown key, bad policy name, CIDR, port, identity or SPIFFE ID. */
  | 'ERR_POLICY_INVALID'
  /** The text is not YAML/JSON. */
  | 'ERR_POLICY_SYNTAX'
  /** The file cannot be read. */
  | 'ERR_POLICY_READ';

export class PolicyError extends Error {
  constructor(
    readonly code: PolicyErrorCode,
    /** Where in the document, e.g. `ports.8080.allow[1].networks[0]`; empty for a read error. */
    readonly path: string,
    /** What is wrong there. */
    readonly detail: string,
    /** The file or variable the document came from, if known. */
    readonly source?: string,
  ) {
    super([source, path, detail].filter(Boolean).join(': '));
    this.name = 'PolicyError';
  }

  /** The same error, attributed to a source (`policy file /x.yaml`, `LANYARD_PROXY_POLICY`). */
  from(source: string): PolicyError {
    return new PolicyError(this.code, this.path, this.detail, source);
  }
}
