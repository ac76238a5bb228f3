#!/usr/bin/env node
/** The `lanyard` command: builds the program (program.ts), runs it, maps errors to exit status. */
import { reportError } from './cli-conventions.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv.slice(2));
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => process.exit(reportError(err)));
