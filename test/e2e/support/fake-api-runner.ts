/**
 * Runs the fake Kubernetes API server as its own process, so it can live inside the
 * control-plane network namespace next to the discovery service. The test drives it with
 * JSON lines on stdin and reads JSON lines on stdout:
 *
 *   → {"op":"addPod","pod":{...}}   {"op":"setServiceAccount","namespace":"default","name":"b","sa":"x"}
 *     {"op":"deletePod","namespace":"default","name":"b"}
 *   ← {"ready":true,"kubeconfig":"/tmp/.../kubeconfig"}   {"ok":"addPod"}   {"error":"..."}
 *
 * Usage: node fake-api-runner.js DIR
 */
import { createInterface } from 'node:readline';
import { FakeKubeApi } from '../../support/fake-kube-api.js';
import { writeKubeconfig } from '../../support/kubeconfig.js';

type Cmd =
  | { op: 'addPod'; pod: Parameters<FakeKubeApi['addPod']>[0] }
  | { op: 'setServiceAccount'; namespace: string; name: string; sa: string }
  | { op: 'deletePod'; namespace: string; name: string }
  | { op: 'stop' };

async function main(): Promise<void> {
  const dir = process.argv[2];
  const api = await FakeKubeApi.start();
  const kubeconfig = writeKubeconfig(dir, api);
  const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  say({ ready: true, kubeconfig });
  const stop = async () => {
    await api.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
      const cmd = JSON.parse(line) as Cmd;
      if (cmd.op === 'addPod') api.addPod(cmd.pod);
      else if (cmd.op === 'setServiceAccount') api.modifyPod(cmd.namespace, cmd.name, (p) => ((p.spec as { serviceAccountName: string }).serviceAccountName = cmd.sa));
      else if (cmd.op === 'deletePod') api.deletePod(cmd.namespace, cmd.name);
      else if (cmd.op === 'stop') break;
      say({ ok: cmd.op });
    } catch (e) {
      say({ error: (e as Error).message });
    }
  }
  await stop();
}

void main();
