/**
 * The Linux capabilities proxy-init needs, checked up front from /proc/self/status so the
 * error names the missing one instead of relaying iptables' "Permission denied (you must be
 * root)", which is wrong in a container that is root but lacks NET_ADMIN.
 */
export const CAPABILITY_BITS = {
  /** Changing netfilter rules, with either backend. */
  CAP_NET_ADMIN: 12,
  /** iptables-legacy talks to the kernel through a raw socket. */
  CAP_NET_RAW: 13,
  /** `ip netns exec` enters a network namespace (setns) and remounts /sys. */
  CAP_SYS_ADMIN: 21,
} as const;

export type CapabilityName = keyof typeof CAPABILITY_BITS;

/** The effective capability set from /proc/<pid>/status text, or null if it has none (not Linux). */
export function effectiveCapabilities(statusText: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  return m ? BigInt('0x' + m[1]) : null;
}

/** Those of `needed` absent from `effective`, in the order asked. */
export function missingCapabilities(effective: bigint, needed: readonly CapabilityName[]): CapabilityName[] {
  return needed.filter((c) => (effective & (1n << BigInt(CAPABILITY_BITS[c]))) === 0n);
}

/** The sentence for an error: what is missing and how a pod spec grants it. */
export function notPermittedMessage(missing: readonly CapabilityName[], lead = 'missing capability'): string {
  const short = missing.map((c) => c.replace(/^CAP_/, ''));
  return (
    `not permitted: ${lead} ${missing.join(', ')} ` +
    `(run as root, or add ${short.map((s) => JSON.stringify(s)).join(', ')} to the init container's securityContext.capabilities.add)`
  );
}
