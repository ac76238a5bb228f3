/**
 * Options that come from a flag or an environment variable. The flag wins; the help text of
 * each option names its variable, and a bad value's error names whichever was used.
 */
import { Option } from 'commander';

export function envOption(flags: string, description: string, env: string, defaultValue?: string): Option {
  const o = new Option(flags, `${description} [env: ${env}]`).env(env);
  return defaultValue === undefined ? o : o.default(defaultValue);
}
