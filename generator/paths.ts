/**
 * Where things are: the package root, the header corpus and the cache. The one
 * place these lookups live (the generator, the CLI, the conformance suite and
 * the scripts all ask here).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The generator package's name (its package.json at the repository root). */
const GENERATOR_PACKAGE = 'vfio-uapi-generator';

/** The root of the generator package (the directory of its package.json), from sources or from `dist/`. */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; ) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === GENERATOR_PACKAGE) return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${GENERATOR_PACKAGE} package root`);
    dir = up;
  }
}

let bindingsRoot: string | undefined;

/**
 * The root of the `vfio-uapi` bindings package the generator depends on (in a clone, the workspace
 * `packages/vfio-uapi`; installed, `node_modules/vfio-uapi`): its `dist/` holds the compiled runtime
 * and the compiled bindings of the repository's `generated/`.
 */
export function bindingsPackageRoot(): string {
  return (bindingsRoot ??= path.dirname(createRequire(import.meta.url).resolve('vfio-uapi/package.json')));
}

/** The generator package's version (package.json), which the provenance line of generated files records. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The header corpus: `$VFIO_UAPI_CORPUS`, else `../shared/uapi` beside the package root (`root`, default this package's). */
export function corpusDir(root: string = packageRoot()): string {
  return path.resolve(process.env.VFIO_UAPI_CORPUS || path.join(root, '..', 'shared', 'uapi'));
}

/**
 * Where to look for a header of the corpus: `$VFIO_UAPI_CORPUS` when set,
 * else `../shared/uapi` beside the package and beside the working directory.
 */
export function corpusDirs(): string[] {
  if (process.env.VFIO_UAPI_CORPUS) return [path.resolve(process.env.VFIO_UAPI_CORPUS)];
  return [...new Set([corpusDir(), path.resolve('..', 'shared', 'uapi')])];
}

/** The cache (Debian kernels, linux-libc-dev, ...): `$VFIO_UAPI_CACHE`, else `~/.cache/vfio-uapi`. */
export function cacheDir(): string {
  const env = process.env.VFIO_UAPI_CACHE;
  return env && env.length > 0 ? path.resolve(env) : path.join(homedir(), '.cache', 'vfio-uapi');
}

/**
 * `mkdir -p` that always ends: Node's own `mkdirSync(dir, { recursive: true })` never returns where
 * `mkdir` answers ENOENT for a directory whose parent exists (under /proc: `/proc/x/y` spins forever
 * on Node 20). Creates each missing component from the deepest existing ancestor down; throws the
 * first error, naming the directory.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  for (; !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  if (!statSync(d).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' (${d} is a file)`), { code: 'ENOTDIR', path: d });
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
