/** Helpers shared by the CLI commands: error reporting and exit codes. */
import { HeaderError } from '../../generator/errors.js';

/** An error that the CLI reports with a given exit code (2: missing prerequisites). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Runs a command body; prints errors without a stack trace and sets the exit code. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    const known = e instanceof HeaderError || e instanceof CliError || err.name === 'MissingPrerequisite';
    process.stderr.write(`vfio-uapi: ${known ? err.message : err.stack ?? err.message}\n`);
    process.exitCode = err.exitCode ?? (err.name === 'MissingPrerequisite' ? 2 : 1);
  }
}
