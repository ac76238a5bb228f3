/**
 * The options `lanyard install`, `lanyard inject` and `lanyard injector` share: where values
 * come from, so a workload is injected for the control plane that was installed.
 */
import type { Command } from 'commander';
import { loadValues } from '../install/load-values.js';
import type { InstallValues } from '../install/values.js';
import { ValueError } from '../util/value-error.js';
import { packageVersion } from './build-info.js';
import { UsageError } from './cli-conventions.js';
import { pathOption, textOption } from './cli-options.js';

export interface ValuesFlags {
  values: string[];
  set: string[];
  ha?: boolean;
  nativeSidecar?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function addValuesOptions(cmd: Command): Command {
  return cmd
    .addOption(pathOption('--values <file>', 'values file (YAML or JSON); repeatable, later files win').argParser(collect).default([], 'none'))
    .addOption(textOption('--set <key=value>', 'set one value, e.g. image.tag=v1 or proxy.resources.limits.memory=256Mi; repeatable').argParser(collect).default([], 'none'));
}

export type ValueOverride = { flag: string; key: string; value: string | undefined };

/** Values from --values, --set, then the flags (`extra`: a command's own value flags). */
export function valuesFrom(o: ValuesFlags, extra: readonly ValueOverride[] = []): InstallValues {
  try {
    return loadValues(packageVersion(), {
      valuesFiles: o.values,
      sets: o.set,
      overrides: [
        { flag: '--ha', key: 'ha', value: o.ha ? 'true' : undefined },
        { flag: '--native-sidecar', key: 'proxy.nativeSidecar', value: o.nativeSidecar ? 'true' : undefined },
        ...extra,
      ],
    });
  } catch (e) {
    if (e instanceof ValueError) throw new UsageError(e.message);
    throw e;
  }
}
