/**
 * Small helpers shared by the VM harness: the cache location, subprocesses with
 * clear errors, and atomic (temp + rename) publication of cache entries.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../../generator/paths.js';

/** Progress callback: short, human-readable lines. */
export type ProgressFn = (msg: string) => void;

/** Root of the harness cache: `$VFIO_UAPI_CACHE`, else `~/.cache/vfio-uapi`. */
export function cacheRoot(): string {
  return cacheDir();
}

export interface ExecOptions {
  /** Names the step in error messages (defaults to the command line). */
  what?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: Buffer;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion. Rejects with `"<what> failed: <stderr>"` on a
 * non-zero exit or when the program cannot be started.
 */
export function exec(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  return execRaw(cmd, args, opts).then((r) => ({ stdout: r.stdout.toString('utf8'), stderr: r.stderr }));
}

/** Like {@link exec} but returns stdout as bytes (for decompressors). */
export function execRaw(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<{ stdout: Buffer; stderr: string }> {
  const what = opts.what ?? `${cmd} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'ENOENT' ? `${what} failed: ${cmd} is not installed` : `${what} failed: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr });
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${stderr || '(no stderr)'}`));
    });
    child.stdin.on('error', () => {}); // EPIPE if the child exits early; reported via 'close'
    child.stdin.end(opts.input);
  });
}

/** A unique sibling name for staging `final` (same filesystem, so rename is atomic). */
function stagingPath(final: string): string {
  return `${final}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes a file atomically (temp file in the same directory + rename). */
export async function writeFileAtomic(final: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await fs.mkdir(path.dirname(final), { recursive: true });
  const tmp = stagingPath(final);
  try {
    await fs.writeFile(tmp, data, { mode });
    await fs.rename(tmp, final);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Builds a directory with `build(tmpDir)` and renames it to `final`. If another
 * process published `final` first, its copy wins and ours is discarded.
 */
export async function publishDir(final: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  await fs.mkdir(path.dirname(final), { recursive: true });
  const tmp = stagingPath(final);
  await fs.mkdir(tmp);
  try {
    await build(tmp);
    try {
      await fs.rename(tmp, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** POSIX shell single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
