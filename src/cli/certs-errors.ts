/**
 * How the operator tooling's errors map to exit status: a bad option or an input file that
 * is missing or holds the wrong thing is a usage error (2); a CA that cannot sign, a
 * refused bundle change or an existing file without --force is a refused operation (1).
 */
import { CertsError } from '../../certs/errors.js';
import { classified } from './cli-conventions.js';

const isUsage = (e: Error): boolean => e instanceof CertsError && (e.code === 'ERR_CERTS_OPTION' || e.code === 'ERR_CERTS_INPUT');

/** Runs a certs action with its errors classified. */
export const certsAction = <T>(fn: () => Promise<T> | T): Promise<T> => classified(fn, isUsage);
