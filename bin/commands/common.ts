/** Helpers shared by the CLI commands: the exit-code contract, error reporting. */
import { HeaderError } from '../../generator/errors.js';

/**
 * The exit-code contract (README, "Exit codes"): what a CI pipeline can rely on.
 * Every command exits with one of these.
 */
export const EXIT = {
  /** Success (for checks: nothing found). */
  OK: 0,
  /** A check found a problem: verify mismatch, generate --check differs, diff --fail-on matched, a conformance `fail`. */
  PROBLEM: 1,
  /** A missing prerequisite: clang, the kernel headers, QEMU, a header the bindings name. */
  PREREQUISITE: 2,
  /** Bad input or usage: an error in a header (file:line:col), an unknown option or value, a refused operation. */
  USAGE: 3,
  /** A bug of ours (the stack trace is printed): please report it. */
  INTERNAL: 4,
} as const;

/** An error that the CLI reports in one line with a given exit code (default: bad input or usage). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.USAGE) {
    super(message);
    this.name = 'CliError';
  }
}

/** A failed file-system call on a path the user gave (`--out` under /proc, a read-only folder, a file for a folder). */
function isFileSystemError(e: unknown): e is NodeJS.ErrnoException {
  const err = e as NodeJS.ErrnoException | undefined;
  return typeof err?.syscall === 'string' && typeof err.path === 'string' && /^E[A-Z]+$/.test(err.code ?? '');
}

/** The exit code for an error thrown by a command body. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (e instanceof HeaderError) return EXIT.USAGE;
  if ((e as Error)?.name === 'MissingPrerequisite') return EXIT.PREREQUISITE;
  if (isFileSystemError(e)) return EXIT.USAGE;
  return EXIT.INTERNAL;
}

/** Runs a command body; prints errors without a stack trace (except for bugs of ours) and sets the exit code. */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    const err = e as Error;
    const code = exitCodeOf(e);
    process.stderr.write(`vfio-uapi: ${code === EXIT.INTERNAL ? err.stack ?? err.message : err.message}\n`);
    process.exitCode = code;
  }
}
