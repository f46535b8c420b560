/**
 * Builds the runtime's native addons for this machine, for `ioctl()`'s hot path (runtime/libc.ts `ioctlOrErrno`):
 * the Node-API system-call addon (runtime/native/syscalls.c, `<package>/runtime/native/build/syscalls-<platform>-
 * <arch>.node`) and the V8-API ioctl addon (runtime/native/ioctl-v8.cc, `ioctl-v8-<platform>-<arch>-abi<N>.node`,
 * N this Node's module version). Run by `npm run build`, with `--optional`: what cannot be built
 * (no C or C++ compiler, no Node headers) is said in one line and the exit is 0 (the next path serves, koffi
 * last); without `--optional` that is exit 2. Never committed, never packed (the package ships the sources).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { addonSource, nodeApiIncludeDir } from '../conformance/vm/syscalls-addon.js';
import { packageRoot } from '../generator/paths.js';
import { LOCAL_ADDON, LOCAL_V8_ADDON } from 'vfio-uapi/runtime/driver/libc';
import { isMainModule } from './is-main.js';

/** The compilers tried, in order, for C and for C++. */
const COMPILERS = { c: ['cc', 'gcc', 'clang'], 'c++': ['c++', 'g++', 'clang++'] } as const;

/** The two addons: the Node-API one (all the runtime's libc calls; ABI-stable) and the V8-API ioctl one (faster; this Node only). */
const ADDONS = [
  { lang: 'c', source: 'syscalls.c', out: LOCAL_ADDON, flags: [] as string[] },
  { lang: 'c++', source: 'ioctl-v8.cc', out: LOCAL_V8_ADDON, flags: ['-std=c++17'] },
] as const;

/**
 * Builds one addon unless it is newer than its source; returns its path.
 * @throws Error naming what is missing (no compiler, no Node headers, not Linux) or the compiler's message.
 */
function buildOne(addon: (typeof ADDONS)[number]): string {
  if (process.platform !== 'linux') throw new Error(`the system-call addons are for Linux (this is ${process.platform})`);
  const source = path.join(path.dirname(addonSource()), addon.source);
  const out = path.join(packageRoot(), addon.out);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return out;
  const include = nodeApiIncludeDir(); // node_api.h, and beside it node.h and v8.h
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const errors: string[] = [];
  try {
    for (const cc of COMPILERS[addon.lang]) {
      try {
        execFileSync(cc, ['-O2', '-Wall', '-Werror', ...addon.flags, '-shared', '-fPIC', `-DNODE_GYP_MODULE_NAME=vfio_uapi_${path.parse(addon.source).name.replace(/-/g, '_')}`, `-I${include}`, source, '-o', tmp], { stdio: 'pipe' });
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
  throw new Error(`no ${addon.lang === 'c' ? 'C' : 'C++'} compiler built ${addon.source} (${errors.join('; ')})`);
}

/**
 * Builds both addons (each unless newer than its source); returns the paths built and, for each one that could
 * not be, why.
 */
export function buildAddons(): { built: string[]; failed: string[] } {
  const built: string[] = [];
  const failed: string[] = [];
  for (const addon of ADDONS) {
    try {
      built.push(buildOne(addon));
    } catch (e) {
      failed.push((e as Error).message);
    }
  }
  return { built, failed };
}

/** The command: `node dist/scripts/build-addon.js [--optional]`; returns the exit code. */
export function main(args: readonly string[]): number {
  const optional = args.includes('--optional');
  const { built, failed } = buildAddons();
  for (const out of built) process.stderr.write(`build-addon: ${path.relative(process.cwd(), out) || out}\n`);
  if (failed.length === 0) return 0;
  const fallback = built.length > 0 ? 'ioctl() goes through the Node-API addon' : 'ioctl() goes through koffi';
  process.stderr.write(`build-addon: ${optional ? 'skipped' : 'error'}: ${failed.join('; ')}${optional ? `; ${fallback}` : ''}\n`);
  return optional ? 0 : 2;
}

if (isMainModule(import.meta.url)) process.exitCode = main(process.argv.slice(2));
