#!/usr/bin/env node
/**
 * The `lanyard` command. Each sub-command lives in its own file and registers itself here;
 * this is the only place where the parts of Lanyard are wired together.
 *
 * Only the module of the sub-command being run is loaded: the proxy must not pay, in
 * start-up time and memory, for the operator tooling's X.509 library or the Kubernetes
 * client. `lanyard --help` loads them all to list them.
 */
import { Command, CommanderError } from 'commander';

type Register = (program: Command) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  identity: async () => (await import('./identity.js')).registerIdentity,
  token: async () => (await import('./token.js')).registerToken,
  certify: async () => (await import('./certify.js')).registerCertify,
  certs: async () => (await import('./certs.js')).registerCerts,
  proxy: async () => (await import('./proxy.js')).registerProxy,
  'proxy-init': async () => (await import('./proxy-init.js')).registerProxyInit,
  demo: async () => (await import('./demo.js')).registerDemo,
  discovery: async () => (await import('./discovery.js')).registerDiscovery,
  install: async () => (await import('./install.js')).registerInstall,
  inject: async () => (await import('./inject.js')).registerInject,
  injector: async () => (await import('./injector.js')).registerInjector,
};

async function main(argv: string[]): Promise<void> {
  const program = new Command('lanyard')
    .description('Workload identity and transparent mutual TLS for Kubernetes.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  const requested = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = requested && COMMANDS[requested] ? [requested] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]())(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`lanyard: ${(err as Error).message}\n`);
  process.exit(1);
});
