#!/usr/bin/env node
/** The vfio-uapi command line. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { ABI_NAMES } from '../generator/abi/abis.js';
import { runCommand } from './commands/common.js';
import { layoutCommand } from './commands/layout.js';
import { generateCommand } from './commands/generate.js';

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

program
  .command('generate')
  .description('generate TypeScript bindings (codecs, constants, flags, ioctls) of a header, for every ABI')
  .requiredOption('--header <path>', 'the UAPI header')
  .option('--out <dir>', 'output directory; the bindings go to <dir>/<name>/', 'generated')
  .option('--name <name>', "module name (default: the header's file name without .h)")
  .option('--header-version <version>', "the header's version, for the provenance line (default: its directory's name)")
  .option('--include <dir>', 'also search DIR for #include <...> (repeatable)', collect)
  .option('--abi <list>', 'all, or a comma-separated list of ABIs', 'all')
  .option('--with-comments', "copy the header's comments into the TSDoc")
  .option('--check', 'exit 1 if the files in --out differ from what would be generated; write nothing')
  .action((opts) => runCommand(() => generateCommand(opts)));

await program.parseAsync();
