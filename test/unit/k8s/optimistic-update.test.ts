/**
 * Read, change, replace: a 409 makes the change be worked out again on a fresh read (so a
 * concurrent edit survives); nothing to change writes nothing; other errors and too many
 * conflicts are thrown; a missing object is a 404.
 */
import { K8sError } from '../../../src/k8s/errors.js';
import { updateWithRetry } from '../../../src/k8s/optimistic-update.js';

type Obj = { rv: number; labels: string[]; value: string };

function server(initial: Obj | null) {
  let stored = initial;
  const writes: Obj[] = [];
  return {
    edit: (f: (o: Obj) => void) => {
      f(stored!);
      stored!.rv++;
    },
    writes,
    get: () => stored,
    read: async () => (stored ? structuredClone(stored) : null),
    replace: async (next: Obj) => {
      if (next.rv !== stored!.rv) throw new K8sError('ERR_K8S_STATUS', 'conflict', 409);
      stored = { ...next, rv: next.rv + 1 };
      writes.push(stored);
      return structuredClone(stored);
    },
  };
}

test('a conflict is redone on the fresh object, keeping the other edit', async () => {
  const s = server({ rv: 1, labels: [], value: 'old' });
  let calls = 0;
  const r = await updateWithRetry<Obj>('ConfigMap x', {
    read: s.read,
    change: (o) => {
      if (calls++ === 0) s.edit((x) => x.labels.push('theirs')); // someone writes between our read and our replace
      return o.value === 'new' ? null : { ...o, value: 'new' };
    },
    replace: s.replace,
  });
  expect({ changed: r.changed, conflicts: r.conflicts, stored: s.get() }).toEqual({ changed: true, conflicts: 1, stored: { rv: 3, labels: ['theirs'], value: 'new' } });
});

test('nothing to change: no write', async () => {
  const s = server({ rv: 1, labels: [], value: 'new' });
  const r = await updateWithRetry<Obj>('x', { read: s.read, change: (o) => (o.value === 'new' ? null : o), replace: s.replace });
  expect({ changed: r.changed, writes: s.writes.length }).toEqual({ changed: false, writes: 0 });
});

test('every attempt conflicting gives up with the 409; a missing object is a 404; other errors pass through', async () => {
  const s = server({ rv: 1, labels: [], value: 'old' });
  const always = updateWithRetry<Obj>('x', { read: s.read, change: (o) => (s.edit(() => undefined), { ...o, value: 'new' }), replace: s.replace }, 3);
  await expect(always).rejects.toMatchObject({ status: 409 });
  await expect(updateWithRetry<Obj>('Secret lanyard/issuer', { read: async () => null, change: (o) => o, replace: s.replace })).rejects.toMatchObject({ status: 404, message: 'Secret lanyard/issuer does not exist' });
  await expect(updateWithRetry<Obj>('x', { read: s.read, change: (o) => ({ ...o, value: 'z' }), replace: async () => { throw new K8sError('ERR_K8S_UNAUTHORIZED', 'forbidden', 403); } })).rejects.toMatchObject({ status: 403 });
});
