/** How times and lifetimes are shown to operators, the same in every `lanyard certs` command. */

/** `2035-11-19T05:00:00Z`: ISO 8601 in UTC, without the milliseconds X.509 cannot hold. */
export function isoTime(t: string | Date): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** A lifetime in the two largest units: `364d 23h`, `5h 0m`, `42s`. */
export function formatSpan(ms: number): string {
  const total = Math.floor(Math.abs(ms) / 1000) * 1000;
  const first = UNITS.findIndex(([, size]) => total >= size);
  if (first === -1) return '0s';
  const [unit, size] = UNITS[first];
  const head = `${Math.floor(total / size)}${unit}`;
  const next = UNITS[first + 1];
  return next ? `${head} ${Math.floor((total % size) / next[1])}${next[0]}` : head;
}

/** `364d 23h remaining`, `EXPIRED 3d 2h ago`, `not valid for another 5m`. */
export function describeRemaining(notBefore: string | Date, notAfter: string | Date, now: Date): string {
  const start = new Date(notBefore).getTime();
  const end = new Date(notAfter).getTime();
  if (end < now.getTime()) return `EXPIRED ${formatSpan(now.getTime() - end)} ago`;
  if (start > now.getTime()) return `NOT YET VALID, starts in ${formatSpan(start - now.getTime())}`;
  return `${formatSpan(end - now.getTime())} remaining`;
}
