#!/usr/bin/env node
/** The vfio-uapi command line. */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { ABI_NAMES } from '../generator/abi/abis.js';
import { CommanderError } from 'commander';
import { EXIT, runCommand } from './commands/common.js';
import { layoutCommand } from './commands/layout.js';
import { generateCommand } from './commands/generate.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command('vfio-uapi')
  .description('TypeScript bindings and ABI conformance for the Linux VFIO userspace API')
  .version(version)
  // Usage errors (unknown option, missing argument) exit with the contract's code, not commander's 1.
  .exitOverride();

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

program
  .command('verify')
  .description('check the emitted bindings against clang on every ABI: sizes, alignments, offsets, field sizes, signedness, constants, ioctl numbers, and byte round trips')
  .option('--header <path>', 'the header the bindings were generated from (default: found from their provenance line)')
  .option('--bindings <dir>', 'a generated bindings directory (default: the package\'s generated/vfio and generated/iommufd)', collect)
  .option('--abi <list>', 'all, or a comma-separated list of ABIs', 'all')
  .option('--json', 'print the results as JSON')
  .option('--report <file>', 'also write a Markdown report')
  .action((opts) => runCommand(async () => (await import('./commands/verify.js')).verifyCommand(opts)));

program
  .command('diff')
  .description('ABI changes between two versions of a header: records, fields, constants, ioctls, flags, per ABI, classified compatible or breaking')
  .argument('<old>', 'the older header')
  .argument('<new>', 'the newer header')
  .option('--abi <list>', 'all, or a comma-separated list of ABIs', 'all')
  .option('--json', 'print JSON')
  .option('--markdown', 'print Markdown')
  .option('--fail-on <what>', 'exit 1 when the diff has a breaking change (breaking) or any change (any)')
  .action((oldHeader, newHeader, opts) => runCommand(async () => (await import('./commands/diff.js')).diffCommand(oldHeader, newHeader, opts)));

program
  .command('update')
  .description("download a Debian suite's linux-libc-dev, regenerate generated/ from its vfio.h and iommufd.h, and print the ABI diff")
  .option('--suite <suite>', 'Debian suite (sid, trixie, trixie-backports, ...)', 'sid')
  .option('--out <dir>', 'the bindings directory to update', 'generated')
  .option('--allow-downgrade', 'replace the bindings even when the suite\'s header is older than the committed one')
  .action((opts) => runCommand(async () => (await import('./commands/update.js')).updateCommand(opts)));

program
  .command('conformance')
  .description('boot Debian kernels (or our own build, custom) in QEMU with emulated PCI devices bound to vfio-pci and exercise every VFIO (and iommufd) ioctl')
  .option('--kernel <suite>', 'bullseye, bookworm, trixie, newest, custom (built from Debian\'s linux-source, cached) or all', 'bookworm')
  .option('--arch <arch>', 'x86_64, ppc64le, s390x, aarch64 or all (guest architectures)', 'x86_64')
  .option('--json', 'print JSON')
  .option('--report <file>', 'write the Markdown matrix')
  .option('--accel <accel>', 'tcg (default) or kvm', 'tcg')
  .option('--host', 'run on this machine\'s /dev/vfio instead of a VM')
  .option('--device <bdf>', 'with --host: the PCI device (e.g. 0000:01:00.0)')
  .option('--bind', 'with --host: bind the device to vfio-pci first')
  .action((opts) => runCommand(async () => (await import('./commands/conformance.js')).conformanceCommand(opts)));

try {
  await program.parseAsync();
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  // Help and --version exit 0; commander has printed the message of a usage error.
  process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
}
