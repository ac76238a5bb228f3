/** Pod objects shaped as the API server returns them, for discovery tests. */
export function meshedPod(ns: string, name: string, sa: string, ip: string, opts: { meshed?: boolean; phase?: string } = {}) {
  const containers = [{ name: 'app', image: 'app:1' }, ...(opts.meshed === false ? [] : [{ name: 'lanyard-proxy', image: 'lanyard:dev' }])];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `${ns}-${name}-uid` },
    spec: { serviceAccountName: sa, containers },
    status: { phase: opts.phase ?? 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}
