/** `vfio-uapi verify`: the emitted bindings against clang on every ABI (see conformance/verify). */
import { writeFile } from 'node:fs/promises';
import { parseAbiList } from '../../generator/abi/abis.js';
import { formatJson, formatMarkdown, formatText, verifyBindings, VerifyInputError } from '../../conformance/verify/index.js';
import { CliError, EXIT } from './common.js';

/** Options of the verify command. */
export interface VerifyCommandOptions {
  header?: string;
  bindings?: string[];
  abi: string;
  json?: boolean;
  report?: string;
}

/**
 * Verifies the bindings; prints a table (or JSON), writes the Markdown report
 * if asked, and exits 1 on any mismatch (2 without clang or headers).
 */
export async function verifyCommand(opts: VerifyCommandOptions): Promise<void> {
  let abis;
  try {
    abis = opts.abi === 'all' ? ('all' as const) : parseAbiList(opts.abi);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  let result;
  try {
    result = await verifyBindings({
      bindings: opts.bindings,
      header: opts.header,
      abis,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof VerifyInputError) throw new CliError(e.message, e.exitCode === 2 ? EXIT.PREREQUISITE : EXIT.USAGE);
    throw e;
  }
  process.stdout.write(opts.json ? formatJson(result) : formatText(result));
  if (opts.report) await writeFile(opts.report, formatMarkdown(result));
  if (!result.ok) {
    process.stderr.write(`vfio-uapi: verify: ${result.failed} mismatch(es) between the bindings and clang\n`);
    process.exitCode = EXIT.PROBLEM;
  }
}
