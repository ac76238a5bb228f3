#!/usr/bin/env node
/**
 * The `lanyard` command. Each sub-command lives in its own file and registers itself here;
 * this is the only place where the parts of Lanyard are wired together.
 */
import { Command, CommanderError } from 'commander';
import { registerIdentity } from './identity.js';
import { registerToken } from './token.js';
import { registerCerts } from './certs.js';
import { registerCertify } from './certify.js';

const program = new Command('lanyard')
  .description('Workload identity and transparent mutual TLS for Kubernetes.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

registerIdentity(program);
registerToken(program);
registerCerts(program);
registerCertify(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`lanyard: ${(err as Error).message}\n`);
  process.exit(1);
});
