/**
 * Locating clang for an ABI and building the command-line flags that compile a
 * UAPI header for it against Debian's multiarch `linux-libc-dev` tree.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Abi } from '../../generator/abi/abis.js';
import { makeTempDir, removeTempDir } from '../cleanup.js';

/** Oldest clang major version the oracle accepts for any ABI. */
export const MIN_CLANG = 14;

/**
 * A tool the conformance checks need is not installed. The message names the
 * Debian packages to install; command-line callers exit with status 2.
 */
export class MissingPrerequisite extends Error {
  /** Debian packages that provide what is missing. */
  readonly packages: readonly string[];
  constructor(message: string, packages: readonly string[]) {
    super(`${message}; install with: apt-get install ${packages.join(' ')}`);
    this.name = 'MissingPrerequisite';
    this.packages = packages;
  }
}

/** A clang executable found on PATH. */
export interface ClangBinary {
  /** Absolute path of `clang-NN`. */
  readonly path: string;
  /** Its major version NN. */
  readonly major: number;
}

let cachedClangs: ClangBinary[] | undefined;

/** Every `clang-NN` executable on PATH (first hit per version), newest first. */
export function installedClangs(): readonly ClangBinary[] {
  if (cachedClangs) return cachedClangs;
  const found = new Map<number, ClangBinary>();
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^clang-(\d+)$/.exec(name);
      if (!m) continue;
      const major = Number(m[1]);
      if (found.has(major)) continue;
      const file = path.join(dir, name);
      try {
        accessSync(file, constants.X_OK);
      } catch {
        continue;
      }
      found.set(major, { path: file, major });
    }
  }
  cachedClangs = [...found.values()].sort((a, b) => b.major - a.major);
  return cachedClangs;
}

/** The clang major version an ABI needs: its `minClang`, and at least {@link MIN_CLANG}. */
export function requiredClangMajor(abi: Abi): number {
  return Math.max(MIN_CLANG, abi.minClang);
}

/**
 * The clang to compile for `abi`: the newest `clang-NN` on PATH with
 * NN >= max(14, abi.minClang), so that one clang serves every ABI when possible.
 * @throws MissingPrerequisite naming `clang-14` / `clang-19` when none fits.
 */
export function findClang(abi: Abi): ClangBinary {
  const need = requiredClangMajor(abi);
  const clang = installedClangs().find((c) => c.major >= need);
  if (clang) return clang;
  const pkg = need <= MIN_CLANG ? 'clang-14' : `clang-${need}`;
  const have = installedClangs().map((c) => `clang-${c.major}`).join(', ') || 'none';
  throw new MissingPrerequisite(`ABI ${abi.name} needs clang ${need} or newer (found on PATH: ${have})`, [pkg]);
}

/**
 * Target and include flags for compiling UAPI headers for `abi`:
 * `--target=<clangTarget> -nostdinc -isystem <root>/<debianTriplet> -isystem <root>`,
 * then `-I <dir>` for each extra directory (searched before the `-isystem` ones).
 */
export function clangArgs(abi: Abi, includeRoot: string, extraIncludeDirs: readonly string[] = [], systemIncludeDirs: readonly string[] = []): string[] {
  const args = [
    `--target=${abi.clangTarget}`,
    '-nostdinc',
    '-isystem', path.join(includeRoot, abi.debianTriplet),
    '-isystem', includeRoot,
  ];
  for (const dir of systemIncludeDirs) args.push('-isystem', dir);
  for (const dir of extraIncludeDirs) args.push('-I', dir);
  return args;
}

/**
 * The libc include dirs a system would search for `abi` after the kernel's: clang's own headers
 * (`stddef.h`, `limits.h`; from `clang -print-resource-dir`) and the ABI's glibc from Debian 12's
 * `libc6-dev-<arch>-cross` (`/usr/<folder>/include`). Undefined when that package is not installed.
 */
export async function libcIncludeDirs(abi: Abi): Promise<string[] | undefined> {
  if (!abi.glibcCross) return undefined;
  const glibc = path.join('/usr', abi.glibcCross.folder, 'include');
  try {
    accessSync(path.join(glibc, 'features.h'), constants.R_OK);
  } catch {
    return undefined;
  }
  const clang = findClang(abi);
  let dir = resourceDirs.get(clang.path);
  if (!dir) {
    dir = (await runClang(clang, ['-print-resource-dir'])).stdout.trim();
    resourceDirs.set(clang.path, dir);
  }
  return [path.join(dir, 'include'), glibc];
}
const resourceDirs = new Map<string, string>();

/** Result of one clang run. */
export interface ClangRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** clang's banner when it crashes (an internal error, not a verdict on the input). */
const CLANG_CRASH = 'PLEASE submit a bug report';
/** Runs after a crash: clang-19 was seen crashing in its lexer, once, on a header it lays out on every other run. */
const CRASH_RETRIES = 2;

/**
 * Runs `clang args...` without a shell; never throws for a non-zero exit status. A run where clang
 * crashes is repeated (up to {@link CRASH_RETRIES} times): the answer of the oracle is a run that ends.
 */
export async function runClang(clang: ClangBinary, args: readonly string[], opts: { cwd?: string } = {}): Promise<ClangRun> {
  let run = await runClangOnce(clang, args, opts);
  for (let i = 0; i < CRASH_RETRIES && run.status !== 0 && run.stderr.includes(CLANG_CRASH); i++) run = await runClangOnce(clang, args, opts);
  return run;
}

function runClangOnce(clang: ClangBinary, args: readonly string[], opts: { cwd?: string }): Promise<ClangRun> {
  return new Promise((resolve, reject) => {
    execFile(
      clang.path,
      args,
      { cwd: opts.cwd, maxBuffer: 1 << 30, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`cannot run ${clang.path}: ${err.message}`));
          return;
        }
        resolve({ status: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
      },
    );
  });
}

/** One `error:` (or `fatal error:`) diagnostic of a clang run. */
export interface ClangDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** The error diagnostics in clang's stderr (notes and warnings are left out). */
export function parseErrors(stderr: string): ClangDiagnostic[] {
  const out: ClangDiagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.*?):(\d+):(\d+): (?:fatal )?error: (.*)$/.exec(line);
    if (m) out.push({ file: m[1], line: Number(m[2]), column: Number(m[3]), message: m[4] });
  }
  return out;
}

/** Major version reported by `clang --version` (for diagnostics and tests). */
export async function clangVersion(clang: ClangBinary): Promise<string> {
  const r = await runClang(clang, ['--version']);
  return r.stdout.split('\n')[0] ?? '';
}

/**
 * A temp dir (named `<prefix>XXXXXX`) whose `linux/` holds symlinks to every
 * `.h` beside `header`, so that `#include <linux/X.h>` finds the header's own
 * siblings before the include tree's. The caller removes it.
 */
export async function siblingIncludeDir(header: string, prefix = 'vfio-uapi-'): Promise<string> {
  const tmp = await makeTempDir(prefix);
  try {
    const dir = path.dirname(header);
    await mkdir(path.join(tmp, 'linux'));
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      if ((ent.isFile() || ent.isSymbolicLink()) && ent.name.endsWith('.h')) {
        await symlink(path.join(dir, ent.name), path.join(tmp, 'linux', ent.name));
      }
    }
  } catch (err) {
    await removeTempDir(tmp);
    throw err;
  }
  return tmp;
}
