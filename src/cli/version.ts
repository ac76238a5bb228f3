/** `lanyard version`: what is installed, for bug reports and `lanyard check`. No network. */
import type { Command } from 'commander';
import { nativeStatus } from '../../proxy/native/index.js';
import { outputOption, printResult } from './cli-conventions.js';
import { gitCommit, packageVersion } from './build-info.js';

export interface VersionReport {
  version: string;
  /** The git commit of the checkout this runs from; null when not known. */
  commit: string | null;
  node: string;
  platform: string;
  /** The native addon (SO_ORIGINAL_DST, the fast CSR verifier): loaded, or why not. */
  nativeAddon: { loaded: boolean; reason?: string; path: string };
}

export function versionReport(): VersionReport {
  const st = nativeStatus();
  return {
    version: packageVersion(),
    commit: gitCommit(),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    nativeAddon: { loaded: st.loaded, ...(st.reason ? { reason: st.reason } : {}), path: st.path },
  };
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version, the Node.js runtime and whether the native addon is loaded')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  lanyard version\n  lanyard version -o json | jq -r .commit\n')
    .action((o: { output: string }) => {
      const r = versionReport();
      printResult(o.output, r, () =>
        [
          `lanyard ${r.version}${r.commit ? ` (${r.commit.slice(0, 12)})` : ''}`,
          `  node          ${r.node} ${r.platform}`,
          `  native addon  ${r.nativeAddon.loaded ? `loaded (${r.nativeAddon.path})` : `not loaded: ${r.nativeAddon.reason ?? 'unknown'}`}`,
        ].join('\n'),
      );
    });
}
