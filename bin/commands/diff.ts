/** `vfio-uapi diff`: the ABI changes between two versions of a header. */
import { parseAbiList } from '../../generator/abi/abis.js';
import { diffHeaderFiles, diffJson, diffMarkdown, diffText, formatDiffJson } from '../../generator/diff/index.js';
import { CliError, EXIT } from './common.js';

/** Options of the diff command. */
export interface DiffCommandOptions {
  /** `all`, or a comma-separated list of ABIs. */
  abi: string;
  json?: boolean;
  markdown?: boolean;
  /** Exit 1 (a check found a problem) when the diff has a breaking change, or any change. */
  failOn?: string;
}

/**
 * Prints the diff of `oldHeader` -> `newHeader` as text, JSON or Markdown. A
 * diff is not an error: the exit code stays 0 unless `--fail-on breaking|any`
 * asks for 1 when there is such a change; unreadable or invalid headers throw
 * `HeaderError` (exit 3).
 */
export function diffCommand(oldHeader: string, newHeader: string, opts: DiffCommandOptions): void {
  if (opts.json && opts.markdown) throw new CliError('--json and --markdown exclude each other');
  if (opts.failOn !== undefined && opts.failOn !== 'breaking' && opts.failOn !== 'any') throw new CliError(`--fail-on must be breaking or any, not ${opts.failOn}`);
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
  const failing = diff.changes.filter((c) => opts.failOn === 'any' || (opts.failOn === 'breaking' && c.severity === 'breaking'));
  if (opts.failOn && failing.length > 0) {
    process.stderr.write(`vfio-uapi: diff: ${failing.length} ${opts.failOn === 'any' ? '' : 'breaking '}change(s) (--fail-on ${opts.failOn})\n`);
    process.exitCode = EXIT.PROBLEM;
  }
}
