/**
 * Builds the runtime's Node-API system-call addon (runtime/native/syscalls.c) for this machine, for `ioctl()`'s
 * hot path (runtime/libc.ts `ioctlOrErrno`): `<package>/runtime/native/build/syscalls-<platform>-<arch>.node`.
 * Run by `npm run build` and at install, with `--optional`: without a C compiler or Node-API headers it says why
 * in one line and exits 0 (koffi serves, as before); without `--optional` that is exit 2. Never committed, never
 * packed (the package ships the source).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { addonSource, nodeApiIncludeDir } from '../conformance/vm/syscalls-addon.js';
import { packageRoot } from '../generator/paths.js';
import { LOCAL_ADDON } from '../runtime/libc.js';
import { isMainModule } from './is-main.js';

/** The C compilers tried, in order. */
const COMPILERS = ['cc', 'gcc', 'clang'];

/**
 * Builds the addon unless it is newer than its source; returns its path.
 * @throws Error naming what is missing (no compiler, no node_api.h, not Linux) or the compiler's message.
 */
export function buildAddon(): string {
  if (process.platform !== 'linux') throw new Error(`the system-call addon is for Linux (this is ${process.platform})`);
  const source = addonSource();
  const out = path.join(packageRoot(), LOCAL_ADDON);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return out;
  const include = nodeApiIncludeDir();
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const errors: string[] = [];
  try {
    for (const cc of COMPILERS) {
      try {
        execFileSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=vfio_uapi_syscalls', `-I${include}`, source, '-o', tmp], { stdio: 'pipe' });
        renameSync(tmp, out);
        return out;
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
        errors.push(err.code === 'ENOENT' ? `${cc}: not found` : `${cc}: ${(err.stderr?.toString() || err.message).trim().split('\n')[0]}`);
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  throw new Error(`no C compiler built it (${errors.join('; ')})`);
}

/** The command: `node dist/scripts/build-addon.js [--optional]`; returns the exit code. */
export function main(args: readonly string[]): number {
  try {
    const out = buildAddon();
    process.stderr.write(`build-addon: ${path.relative(process.cwd(), out) || out}\n`);
    return 0;
  } catch (e) {
    const optional = args.includes('--optional');
    process.stderr.write(`build-addon: ${optional ? 'skipped' : 'error'}: ${(e as Error).message}${optional ? '; ioctl() goes through koffi' : ''}\n`);
    return optional ? 0 : 2;
  }
}

if (isMainModule(import.meta.url)) process.exitCode = main(process.argv.slice(2));
