/**
 * Read, change, replace, with the API server's optimistic concurrency: the replace carries
 * the resourceVersion that was read, so if anyone changed the object in between the server
 * answers 409 Conflict, and the change is worked out again on the fresh object. `change`
 * must therefore be a function of the object it is given, never of an earlier read.
 */
import { K8sError } from './errors.js';

export interface UpdateResult<T> {
  /** The object as stored after the update, or as read when nothing needed to change. */
  object: T;
  changed: boolean;
  /** Replaces refused with 409 before the one that went through. */
  conflicts: number;
}

export interface UpdateSteps<T> {
  /** Reads the object; null when it does not exist (an error names `what`). */
  read: () => Promise<T | null>;
  /** The object as it should be, or null when it already is. Called once per attempt. */
  change: (current: T) => T | null;
  replace: (next: T) => Promise<T>;
}

/**
 * @param what names the object in errors: `Secret lanyard/lanyard-identity-issuer`
 * @param attempts how many replaces to try before giving up on conflicts. Default 5.
 * @throws K8sError ERR_K8S_STATUS (404) when the object does not exist; the last 409 when every attempt conflicted
 */
export async function updateWithRetry<T>(what: string, steps: UpdateSteps<T>, attempts = 5): Promise<UpdateResult<T>> {
  let conflicts = 0;
  for (;;) {
    const current = await steps.read();
    if (current === null) throw new K8sError('ERR_K8S_STATUS', `${what} does not exist`, 404);
    const next = steps.change(current);
    if (next === null) return { object: current, changed: false, conflicts };
    try {
      return { object: await steps.replace(next), changed: true, conflicts };
    } catch (e) {
      if (!(e instanceof K8sError && e.status === 409) || conflicts + 1 >= attempts) throw e;
      conflicts++;
    }
  }
}
