/**
 * The `lanyard` program: its sub-commands and the conventions they share. Each sub-command
 * lives in its own file and registers itself here; this is the only place where the parts
 * of Lanyard are wired together.
 *
 * Only the module of the sub-command being run is loaded: the proxy must not pay, in
 * start-up time and memory, for the operator tooling's X.509 library or the Kubernetes
 * client. `lanyard --help` and `lanyard completion` load them all to list them.
 */
import { Command } from 'commander';
import { applyConventions } from './cli-conventions.js';
import { packageVersion } from './build-info.js';

type Register = (program: Command) => void;

export const COMMANDS: Record<string, () => Promise<Register>> = {
  identity: async () => (await import('./identity.js')).registerIdentity,
  token: async () => (await import('./token.js')).registerToken,
  certify: async () => (await import('./certify.js')).registerCertify,
  certs: async () => (await import('./certs.js')).registerCerts,
  check: async () => (await import('./check.js')).registerCheck,
  proxy: async () => (await import('./proxy.js')).registerProxy,
  'proxy-init': async () => (await import('./proxy-init.js')).registerProxyInit,
  demo: async () => (await import('./demo.js')).registerDemo,
  discovery: async () => (await import('./discovery.js')).registerDiscovery,
  edges: async () => (await import('./edges.js')).registerEdges,
  tap: async () => (await import('./tap.js')).registerTap,
  dashboard: async () => (await import('./dashboard.js')).registerDashboard,
  install: async () => (await import('./install.js')).registerInstall,
  inject: async () => (await import('./inject.js')).registerInject,
  injector: async () => (await import('./injector.js')).registerInjector,
  version: async () => (await import('./version.js')).registerVersion,
  completion: async () => (await import('./completion.js')).registerCompletion,
};

/** Commands that read the whole program (the completion script lists every command). */
const NEEDS_ALL = new Set(['completion']);

/**
 * The program with the sub-command `argv` names registered (all of them when it names
 * none, or one that lists the others), conventions applied.
 */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('lanyard').description('workload identity and transparent mutual TLS for Kubernetes').version(packageVersion());
  program.addHelpText('after', '\nExit status: 0 success, 1 the operation failed, 2 usage error (README, "Command-line conventions").');
  const requested = argv.find((a) => !a.startsWith('-'));
  const names = requested && COMMANDS[requested] && !NEEDS_ALL.has(requested) ? [requested] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]())(program);
  applyConventions(program);
  return program;
}
