#!/usr/bin/env node
/** The vfio-uapi command line. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { ABI_NAMES } from '../generator/abi/abis.js';
import { runCommand } from './commands/common.js';
import { layoutCommand } from './commands/layout.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command('vfio-uapi')
  .description('TypeScript bindings and ABI conformance for the Linux VFIO userspace API')
  .version(version);

program
  .command('layout')
  .description('show the size, alignment and field offsets of every record, and every integer constant, of a header on one ABI')
  .requiredOption('--header <path>', 'the UAPI header (e.g. /usr/include/linux/vfio.h)')
  .requiredOption('--abi <name>', `one of: ${ABI_NAMES.join(', ')}`)
  .option('--json', 'print JSON instead of a table')
  .option('--include <dir>', 'also search DIR for #include <...> (repeatable)', collect)
  .action((opts) => runCommand(() => layoutCommand(opts)));

await program.parseAsync();
