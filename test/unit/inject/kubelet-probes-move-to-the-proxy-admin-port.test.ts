/**
 * Injection points the app's httpGet and tcpSocket probes at the proxy's admin port (which
 * proxy-init never redirects) and hands the originals to the proxy, which parses them into
 * the probes it runs; exec, grpc, other-host and unresolvable probes are left alone;
 * uninjection restores the originals exactly and re-injection changes nothing.
 */
import { parseAppProbes } from '../../../proxy/probes/app-probes.js';
import { injectConfigFrom } from '../../../src/inject/inject-config.js';
import { applyPatch } from '../../../src/inject/json-patch.js';
import { planInjection, planUninjection, type PodTemplate } from '../../../src/inject/pod-patch.js';
import { loadValues } from '../../../src/install/load-values.js';
import { validateK8sObject } from '../../support/k8s-schema.js';

const cfg = (sets: string[] = []) => injectConfigFrom(loadValues('0.1.0', { sets }), null);

const pod = (): PodTemplate => ({
  metadata: { labels: { app: 'web' } },
  spec: {
    containers: [
      {
        name: 'web',
        image: 'shop/web:1',
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready?full=1', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'kubelet' }] }, periodSeconds: 5 },
        livenessProbe: { tcpSocket: { port: 8080 }, timeoutSeconds: 3 },
        startupProbe: { httpGet: { path: '/started', port: 8081, scheme: 'HTTPS' }, failureThreshold: 30 },
      },
      {
        name: 'sidecar',
        image: 'shop/side:1',
        readinessProbe: { exec: { command: ['true'] } },
        livenessProbe: { grpc: { port: 9090 } },
        startupProbe: { httpGet: { host: '10.0.0.1', path: '/up', port: 9100 } },
      },
      { name: 'named', image: 'x', readinessProbe: { httpGet: { path: '/', port: 'undeclared' } } },
    ],
  },
});

const injected = (t: PodTemplate, sets: string[] = []) => {
  const d = planInjection(t, cfg(sets));
  if (d.action !== 'inject') throw new Error(`expected inject, got ${d.action}`);
  return applyPatch(t, d.ops);
};
const container = (t: PodTemplate, name: string): any => [...(t.spec!.initContainers ?? []), ...t.spec!.containers!].find((c) => c.name === name);
const probesEnv = (t: PodTemplate): string | undefined => container(t, 'lanyard-proxy').env.find((e: any) => e.name === 'LANYARD_PROXY_APP_PROBES')?.value;

describe.each([
  ['classic', [] as string[]],
  ['native sidecar', ['proxy.nativeSidecar=true']],
])('%s', (_n, sets) => {
  test('ok/httpGet and tcpSocket probes go to /app-health/<container>/<kind> on 4191; their other fields stay', () => {
    const web = container(injected(pod(), sets), 'web');
    expect(web.readinessProbe).toEqual({ httpGet: { path: '/app-health/web/readiness', port: 4191, scheme: 'HTTP' }, periodSeconds: 5 });
    expect(web.livenessProbe).toEqual({ httpGet: { path: '/app-health/web/liveness', port: 4191, scheme: 'HTTP' }, timeoutSeconds: 3 });
    expect(Object.keys(web.livenessProbe)).toEqual(['httpGet', 'timeoutSeconds']);
    expect(web.startupProbe).toEqual({ httpGet: { path: '/app-health/web/startup', port: 4191, scheme: 'HTTP' }, failureThreshold: 30 });
  });

  test('ok/exec, grpc, another host and an undeclared named port are left alone', () => {
    const t = injected(pod(), sets);
    expect(container(t, 'sidecar')).toEqual(pod().spec!.containers![1]);
    expect(container(t, 'named')).toEqual(pod().spec!.containers![2]);
  });

  test('ok/the proxy parses what injection hands it into the probes it runs (ports resolved, headers, timeouts, schemes)', () => {
    const probes = parseAppProbes(probesEnv(injected(pod(), sets))!);
    expect(Object.fromEntries(probes)).toEqual({
      '/app-health/web/readiness': { kind: 'http', port: 8080, path: '/ready?full=1', scheme: 'http', headers: [{ name: 'X-Probe', value: 'kubelet' }], timeoutMs: 1000 },
      '/app-health/web/liveness': { kind: 'tcp', port: 8080, path: '', scheme: 'http', headers: [], timeoutMs: 3000 },
      '/app-health/web/startup': { kind: 'http', port: 8081, path: '/started', scheme: 'https', headers: [], timeoutMs: 1000 },
    });
  });

  test('ok/uninject restores every probe exactly; injecting twice changes nothing', () => {
    const t = injected(pod(), sets);
    expect(applyPatch(t, planUninjection(t))).toEqual(pod());
    expect(planInjection(t, cfg(sets))).toEqual({ action: 'unchanged', reason: 'already injected with these values' });
  });

  test('ok/the injected pod validates against the Pod schema', () => {
    validateK8sObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: injected(pod(), sets).spec });
  });
});

test('ok/a probe changed by hand after injection is not overwritten by uninject', () => {
  const t = injected(pod());
  (container(t, 'web') as any).readinessProbe = { httpGet: { path: '/mine', port: 8080 } };
  const back = applyPatch(t, planUninjection(t));
  expect(container(back, 'web').readinessProbe).toEqual({ httpGet: { path: '/mine', port: 8080 } });
  expect(container(back, 'web').livenessProbe).toEqual({ tcpSocket: { port: 8080 }, timeoutSeconds: 3 });
});

test('ok/a pod without rewritable probes gets no LANYARD_PROXY_APP_PROBES', () => {
  const t = pod();
  t.spec!.containers = [t.spec!.containers![1]];
  expect(probesEnv(injected(t))).toBeUndefined();
});
