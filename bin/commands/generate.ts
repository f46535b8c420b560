/** `vfio-uapi generate`: write (or check) the TypeScript bindings of a header. */
import { join, resolve } from 'node:path';
import { diffFileSet, generateBindings, writeFileSet } from '../../generator/codegen/emit.js';
import { parseAbiList } from '../../generator/abi/abis.js';
import { CliError, EXIT } from './common.js';

/** Options of the generate command. */
export interface GenerateCommandOptions {
  header: string;
  out: string;
  name?: string;
  headerVersion?: string;
  include?: string[];
  withComments?: boolean;
  abi?: string;
  check?: boolean;
}

/** Generates, or with `--check` compares, the bindings of one header. */
export function generateCommand(opts: GenerateCommandOptions): void {
  let abis;
  try {
    abis = opts.abi ? parseAbiList(opts.abi) : undefined;
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const files = generateBindings({
    header: opts.header, out: opts.out, name: opts.name, version: opts.headerVersion,
    includeDirs: opts.include, withComments: opts.withComments, abis,
  });
  const name = opts.name ?? opts.header.replace(/^.*\//, '').replace(/\.h$/, '');
  const dir = resolve(opts.out, name);
  if (opts.check) {
    const differ = diffFileSet(dir, files);
    if (differ.length > 0) {
      throw new CliError(`${join(opts.out, name)} is not what ${opts.header} generates; run vfio-uapi generate without --check. Differing: ${differ.join(', ')}`, EXIT.PROBLEM);
    }
    process.stdout.write(`${join(opts.out, name)}: up to date (${files.size} files)\n`);
    return;
  }
  writeFileSet(dir, files);
  process.stdout.write(`${join(opts.out, name)}: wrote ${files.size} files\n`);
}
