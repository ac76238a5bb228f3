/**
 * Cuts a caller's value for an error message. Refusals are returned in `grpc-message` and
 * logged, and a caller controls up to 64 KiB of request: echoing it whole would let anyone
 * write 64 KiB lines into our logs per call. src/pki may not import src/util, so this is a
 * copy of src/util/value-error.ts's `quote` (same output).
 */
export function quote(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/** At most `max` quoted items, then how many there were: `["a", "b", … 12 in all]`. */
export function quoteList(values: string[], max = 3, each = 80): string {
  const shown = values.slice(0, max).map((v) => quote(v, each));
  if (values.length > max) shown.push(`… ${values.length} in all`);
  return `[${shown.join(', ')}]`;
}
