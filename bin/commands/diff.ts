/** `vfio-uapi diff`: the ABI changes between two versions of a header. */
import { parseAbiList } from '../../generator/abi/abis.js';
import { diffHeaderFiles, diffJson, diffMarkdown, diffText, formatDiffJson } from '../../generator/diff/index.js';
import { CliError } from './common.js';

/** Options of the diff command. */
export interface DiffCommandOptions {
  /** `all`, or a comma-separated list of ABIs. */
  abi: string;
  json?: boolean;
  markdown?: boolean;
}

/**
 * Prints the diff of `oldHeader` -> `newHeader` as text, JSON or Markdown. A
 * diff is not an error: the exit code stays 0; unreadable or invalid headers
 * throw `HeaderError` (exit 1).
 */
export function diffCommand(oldHeader: string, newHeader: string, opts: DiffCommandOptions): void {
  if (opts.json && opts.markdown) throw new CliError('--json and --markdown exclude each other');
  let abis;
  try {
    abis = parseAbiList(opts.abi ?? 'all');
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const diff = diffHeaderFiles(oldHeader, newHeader, { abis });
  if (opts.json) process.stdout.write(`${formatDiffJson(diffJson(diff, oldHeader, newHeader))}\n`);
  else if (opts.markdown) process.stdout.write(diffMarkdown(diff, oldHeader, newHeader));
  else process.stdout.write(diffText(diff, oldHeader, newHeader));
}
