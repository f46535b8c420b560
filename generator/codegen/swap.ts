/**
 * Replacing a directory of generated files so that, at every instant, the
 * target holds either the complete old contents or the complete new ones:
 * the new files are written beside it (`<dir>.tmp-<pid>`), then exchanged with
 * it in one system call (`renameat2(RENAME_EXCHANGE)`, Linux >= 3.15), and the
 * old contents (now in the staging directory) removed. Leftovers of runs that
 * died (any `<dir>.tmp-<pid>` or `<dir>.old-<pid>` whose process is gone) are
 * removed first; an `.old-` one is renamed back when the target is missing (a
 * run killed between the two renames of the fallback used where renameat2 is
 * not available).
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../paths.js';
import { basename, dirname, join, resolve } from 'node:path';

/** Steps at which a test may have the process killed (`VFIO_UAPI_TEST_KILL_AT`), to check recovery. */
export const SWAP_STEPS = ['cleaned', 'writing', 'staged', 'exchanged'] as const;

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

let exchange: ((a: string, b: string) => boolean) | null | undefined;

/** `renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)`, or null where it cannot be called. */
function exchangeFunction(): ((a: string, b: string) => boolean) | null {
  if (exchange !== undefined) return exchange;
  exchange = null;
  if (process.platform !== 'linux') return exchange;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const renameat2 = koffi.load('libc.so.6').func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)');
    exchange = (a, b) => renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) === 0;
  } catch {
    exchange = null;
  }
  return exchange;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function step(name: (typeof SWAP_STEPS)[number]): void {
  if (process.env.VFIO_UAPI_TEST_KILL_AT === name) process.kill(process.pid, 'SIGKILL');
}

/** Removes (or, for a lost target, restores) what runs that died left beside `target`. */
export function cleanLeftovers(target: string): void {
  const parent = dirname(target);
  if (!existsSync(parent)) return;
  const prefix = basename(target);
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-(\\d+)$`);
  for (const name of readdirSync(parent)) {
    const m = pattern.exec(name);
    if (!m || alive(Number(m[2]))) continue;
    const path = join(parent, name);
    if (m[1] === 'old' && !existsSync(target)) renameSync(path, target);
    else rmSync(path, { recursive: true, force: true });
  }
}

/** Writes `files` (relative path -> contents) as the new contents of directory `dir`, atomically. */
export function replaceDirectory(dir: string, files: ReadonlyMap<string, string>): void {
  const target = resolve(dir);
  makeDirs(dirname(target));
  cleanLeftovers(target);
  step('cleaned');
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const [rel, text] of files) {
      makeDirs(dirname(join(staging, rel)));
      writeFileSync(join(staging, rel), text);
      step('writing');
    }
    step('staged');
    if (!existsSync(target)) renameSync(staging, target);
    else if (exchangeFunction()?.(staging, target)) {
      step('exchanged');
      rmSync(staging, { recursive: true, force: true }); // the old contents
    } else {
      // No renameat2: two renames, with a moment without the target that cleanLeftovers repairs after a kill.
      const old = `${target}.old-${process.pid}`;
      renameSync(target, old);
      renameSync(staging, target);
      rmSync(old, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
