/**
 * Where `lanyard edges -n` reads a meshed pod's proxy: its `lanyard-admin` container port
 * (as `lanyard inject` names it), else the port of its LANYARD_PROXY_ADMIN_ADDR, else 4191.
 */
import { proxyAdminPort as adminPort } from '../../../src/inject/meshed-pod.js';
import type { PodObject } from '../../../src/k8s/pods.js';

const pod = (proxy: Record<string, unknown>, where: 'containers' | 'initContainers' = 'containers'): PodObject =>
  ({ metadata: { name: 'web-1', namespace: 'default' }, spec: { [where]: [{ name: 'app', ports: [{ name: 'lanyard-admin', containerPort: 1 }] }, { name: 'lanyard-proxy', ...proxy }] } }) as unknown as PodObject;

test.each([
  ['ok/the named port of the proxy container', pod({ ports: [{ name: 'lanyard-admin', containerPort: 9191 }] }), 9191],
  ['ok/a native sidecar (init container) too', pod({ restartPolicy: 'Always', ports: [{ name: 'lanyard-admin', containerPort: 9192 }] }, 'initContainers'), 9192],
  ['ok/the variable when no port is named', pod({ env: [{ name: 'LANYARD_PROXY_ADMIN_ADDR', value: '0.0.0.0:4999' }] }), 4999],
  ['ok/the named port wins over the variable', pod({ ports: [{ name: 'lanyard-admin', containerPort: 9193 }], env: [{ name: 'LANYARD_PROXY_ADMIN_ADDR', value: '0.0.0.0:4999' }] }), 9193],
  ['ok/a variable the proxy would refuse: the default', pod({ env: [{ name: 'LANYARD_PROXY_ADMIN_ADDR', value: 'no-port' }] }), 4191],
  ['ok/nothing said: the default', pod({}), 4191],
  ["ok/another container's port of that name is not the proxy's", pod({ ports: [{ name: 'metrics', containerPort: 9000 }] }), 4191],
])('%s', (_name, p, port) => {
  expect(adminPort(p)).toBe(port);
});
