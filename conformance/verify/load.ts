/**
 * Loading emitted bindings for verification: a generated directory
 * (`generated/vfio`: `index`, `abi/<abi>`, `codecs/`, `constants/`) as
 * compiled JavaScript or as TypeScript source, its provenance line, and the
 * header it names.
 *
 * - The repository's own bindings (`generated/<name>` beside the generator's
 *   `package.json`) are imported from the `vfio-uapi` package's build
 *   (`packages/vfio-uapi/dist/generated/<name>`) when it is at least as new as
 *   the sources.
 * - Any other directory of `.js` files is imported where it lies if its
 *   imports resolve, else copied to a temp dir with the imports that leave the
 *   directory pointed at the `vfio-uapi` package's compiled runtime.
 * - A directory of `.ts` files is transpiled (the `typescript` package's
 *   `transpileModule`) into a temp dir, with the same import rewriting.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeTempDir, removeTempDir } from '../cleanup.js';
import { parseProvenance, type Provenance } from '../../generator/provenance.js';
import { createRequire } from 'node:module';
import { bindingsPackageRoot, corpusDirs, packageRoot } from '../../generator/paths.js';
import { sha256File } from '../../generator/headers.js';

/** A bindings problem the user can fix (bad directory, header not found); `exitCode` 2 for missing inputs. */
export class VerifyInputError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'VerifyInputError';
  }
}

export { parseProvenance, type Provenance } from '../../generator/provenance.js';
export { packageRoot };

/**
 * The bindings directories `dir` stands for: itself when it holds one header's
 * bindings (an `abi/` folder), else each of its subdirectories that does (a
 * `generated/` folder with `vfio/` and `iommufd/`, as verify checks by default).
 */
export function expandBindingsDir(dir: string): string[] {
  if (existsSync(path.join(dir, 'abi'))) return [dir];
  let subdirs: string[] = [];
  try {
    subdirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'abi'))).map((e) => path.join(dir, e.name)).sort();
  } catch {
    return [dir]; // loadBindings says what is wrong with it
  }
  return subdirs.length > 0 ? subdirs : [dir];
}

/**
 * The bindings `verify` checks by default: the repository's generated/vfio, iommufd, vfio_zdev and
 * vfio_ccw, or, where the generator is installed without them, the installed `vfio-uapi` package's.
 */
export function defaultBindingsDirs(): string[] {
  const root = packageRoot();
  return ['vfio', 'iommufd', 'vfio_zdev', 'vfio_ccw']
    .map((n) => [path.join(root, 'generated', n), path.join(bindingsPackageRoot(), 'dist', 'generated', n)].find((d) => existsSync(d)))
    .filter((d): d is string => d !== undefined);
}

/** A bindings directory ready to import. */
export interface LoadedBindings {
  /** The directory as given (absolute). */
  readonly dir: string;
  /** Where the modules are imported from (`dir`, its dist build, or a temp dir). */
  readonly importDir: string;
  /** How: `in place`, `dist`, `copied`, `transpiled`. */
  readonly how: 'in place' | 'dist' | 'copied' | 'transpiled';
  readonly provenance: Provenance;
  /** ABIs the directory has a module for (`abi/<name>`). */
  readonly abis: readonly string[];
  /** Names of the ioctls (`IOCTL_SPECS` of its index). */
  readonly ioctls: ReadonlySet<string>;
  /** The ABI module's exports. */
  module(abi: string): Promise<Record<string, unknown>>;
  /** Removes temp files. */
  dispose(): Promise<void>;
}

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, ent.name);
    if (ent.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

const isTs = (f: string) => f.endsWith('.ts') && !f.endsWith('.d.ts');
/** Relative imports, and imports of the bindings package by name (generated code imports `vfio-uapi/codegen-v1`). */
const IMPORT = /(\b(?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]+|vfio-uapi(?:\/[^'"]*)?)\2/g;
const SELF = 'vfio-uapi';

/** Loads the bindings in `dir`. */
export async function loadBindings(dir: string): Promise<LoadedBindings> {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, 'abi'))) {
    throw new VerifyInputError(`${dir}: not a generated bindings directory (no abi/ in it)`);
  }
  const files = await walk(abs);
  const jsFiles = files.filter((f) => f.endsWith('.js'));
  const tsFiles = files.filter(isTs);
  const kind = jsFiles.some((f) => f.startsWith(`abi${path.sep}`)) ? 'js' : tsFiles.some((f) => f.startsWith(`abi${path.sep}`)) ? 'ts' : undefined;
  if (!kind) throw new VerifyInputError(`${dir}: abi/ holds neither .js nor .ts modules`);
  const ext = kind === 'js' ? '.js' : '.ts';
  const abis = files.filter((f) => f.startsWith(`abi${path.sep}`) && f.endsWith(ext) && !f.endsWith('.d.ts'))
    .map((f) => path.basename(f, ext)).sort();

  const firstFile = ['index.js', 'index.ts', ...abis.map((a) => path.join('abi', a + ext))].map((f) => path.join(abs, f)).find((f) => existsSync(f))!;
  const firstLine = readFileSync(firstFile, 'utf8').split('\n', 1)[0];
  const provenance = parseProvenance(firstLine);
  if (!provenance) throw new VerifyInputError(`${path.relative(process.cwd(), firstFile) || firstFile}: no provenance line ('// Code generated by vfio-uapi from <header> (<version>, sha256 <hash>). DO NOT EDIT.')`);

  const root = packageRoot();
  let importDir = abs;
  let how: LoadedBindings['how'] = 'in place';
  let temp: string | undefined;
  const relToRoot = path.relative(root, abs);
  const insidePackage = !relToRoot.startsWith('..') && !path.isAbsolute(relToRoot) && !relToRoot.startsWith(`dist${path.sep}`);
  const bindingsDist = path.join(bindingsPackageRoot(), 'dist');
  if (kind === 'ts' && insidePackage && distIsFresh(abs, path.join(bindingsDist, relToRoot), tsFiles)) {
    importDir = path.join(bindingsDist, relToRoot);
    how = 'dist';
  } else if (kind === 'ts' || !isEsmScope(abs) || !(await importsResolve(abs, jsFiles))) {
    temp = await makeTempDir('vfio-uapi-bindings-');
    importDir = path.join(temp, path.basename(abs));
    how = kind === 'ts' ? 'transpiled' : 'copied';
    try {
      await mkdir(importDir, { recursive: true });
      const ts = kind === 'ts' ? await loadTypeScript() : undefined;
      for (const f of kind === 'ts' ? tsFiles : jsFiles) {
        let text = await readFile(path.join(abs, f), 'utf8');
        if (ts) {
          text = ts.transpileModule(text, {
            fileName: f,
            compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, removeComments: false },
          }).outputText;
        }
        const out = path.join(importDir, kind === 'ts' ? f.replace(/\.ts$/, '.js') : f);
        await mkdir(path.dirname(out), { recursive: true });
        await writeFile(out, rewriteImports(text, path.join(abs, f), abs, root, bindingsDist));
      }
      if (!existsSync(path.join(importDir, 'package.json'))) await writeFile(path.join(importDir, 'package.json'), '{"type":"module"}\n');
    } catch (err) {
      await removeTempDir(temp);
      throw err;
    }
  }

  const ioctls = await ioctlNames(importDir);
  const cache = new Map<string, Promise<Record<string, unknown>>>();
  return {
    dir: abs,
    importDir,
    how,
    provenance,
    abis,
    ioctls,
    module(abi: string) {
      let p = cache.get(abi);
      if (!p) {
        const file = path.join(importDir, 'abi', `${abi}.js`);
        if (!existsSync(file)) throw new VerifyInputError(`${dir}: no bindings for ABI ${abi} (abi/${abi}${ext})`);
        p = import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;
        cache.set(abi, p);
      }
      return p;
    },
    dispose: async () => {
      if (temp) await removeTempDir(temp);
    },
  };
}

/** Whether `distDir` has a .js for every .ts of `srcDir`, none older than its source. */
function distIsFresh(srcDir: string, distDir: string, tsFiles: readonly string[]): boolean {
  if (tsFiles.length === 0) return false;
  for (const f of tsFiles) {
    const js = path.join(distDir, f.replace(/\.ts$/, '.js'));
    try {
      if (statSync(js).mtimeMs < statSync(path.join(srcDir, f)).mtimeMs) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Whether Node.js treats .js files in `dir` as ES modules (the nearest package.json says `"type": "module"`). */
function isEsmScope(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        return (JSON.parse(readFileSync(pj, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(d) === d) return false;
  }
}

/** Whether every import of the .js files resolves where they lie (relative ones to an existing file). */
async function importsResolve(dir: string, jsFiles: readonly string[]): Promise<boolean> {
  for (const f of jsFiles) {
    const text = await readFile(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      if (m[3].startsWith(SELF)) {
        try {
          createRequire(path.join(dir, f)).resolve(m[3]);
        } catch {
          return false;
        }
      } else if (!existsSync(path.resolve(path.dirname(path.join(dir, f)), m[3]))) return false;
    }
  }
  return true;
}

/** Modules of the runtime before it had one entry point for generated code (bindings of 0.1.0 import them). */
const LEGACY_CODEGEN_MODULES = /(?:^|[/\\])runtime[/\\](?:codec|encoding|bindings|abi)\.js$/;

/**
 * Relative imports that stay inside the bindings directory are kept; imports of
 * `vfio-uapi/...` go to the file the installed `vfio-uapi` package resolves
 * them to; the other relative ones (the runtime) go to an absolute file URL:
 * the file itself if it exists as .js, else its compiled counterpart in the
 * bindings package (`dist/...`), else, for the runtime modules bindings of
 * 0.1.0 import, the `vfio-uapi/codegen-v1` entry point.
 */
function rewriteImports(text: string, file: string, dir: string, root: string, bindingsDist: string): string {
  const require = createRequire(import.meta.url);
  return text.replace(IMPORT, (all, pre: string, q: string, spec: string) => {
    if (spec === SELF || spec.startsWith(`${SELF}/`)) {
      let found: string;
      try {
        found = require.resolve(spec);
      } catch {
        throw new VerifyInputError(`${file}: cannot resolve import '${spec}' (is the vfio-uapi package installed and built? 'npm run build')`);
      }
      return `${pre}${q}${pathToFileURL(found).href}${q}`;
    }
    const target = path.resolve(path.dirname(file), spec);
    const rel = path.relative(dir, target);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return all;
    const candidates = [target];
    const inRoot = path.relative(root, target);
    if (!inRoot.startsWith('..') && !path.isAbsolute(inRoot)) candidates.push(path.join(bindingsDist, inRoot));
    if (LEGACY_CODEGEN_MODULES.test(target)) candidates.push(require.resolve(`${SELF}/codegen-v1`));
    const found = candidates.find((c) => c.endsWith('.js') && existsSync(c));
    if (!found) {
      throw new VerifyInputError(`${file}: cannot resolve import '${spec}' (tried ${candidates.join(', ')}; build the packages with 'npm run build')`);
    }
    return `${pre}${q}${pathToFileURL(found).href}${q}`;
  });
}

interface TypeScriptApi {
  transpileModule(input: string, opts: { fileName?: string; compilerOptions: Record<string, unknown> }): { outputText: string };
  ModuleKind: { ESNext: number };
  ScriptTarget: { ES2022: number };
}

async function loadTypeScript(): Promise<TypeScriptApi> {
  try {
    const m = (await import('typescript')) as unknown as { default?: TypeScriptApi } & TypeScriptApi;
    return m.default ?? m;
  } catch {
    throw new VerifyInputError("TypeScript bindings need the 'typescript' package to be transpiled (npm install typescript), or give a directory of compiled .js", 2);
  }
}

/** `IOCTL_SPECS` names of the index module; read from its text if importing it fails (e.g. an ABI Node.js does not run on). */
async function ioctlNames(importDir: string): Promise<Set<string>> {
  const index = path.join(importDir, 'index.js');
  if (!existsSync(index)) return new Set();
  try {
    const mod = (await import(pathToFileURL(index).href)) as { IOCTL_SPECS?: readonly { name: string }[] };
    if (Array.isArray(mod.IOCTL_SPECS)) return new Set(mod.IOCTL_SPECS.map((s) => s.name));
  } catch {
    // fall through to the text
  }
  const text = await readFile(index, 'utf8');
  const start = text.indexOf('IOCTL_SPECS');
  const end = start < 0 ? -1 : text.indexOf('];', start);
  const names = new Set<string>();
  if (start >= 0) for (const m of text.slice(start, end < 0 ? undefined : end).matchAll(/\bname:\s*['"](\w+)['"]/g)) names.add(m[1]);
  return names;
}

export { corpusDirs };

export { sha256File };

/**
 * The header named by the provenance: `<corpus>/<version>/<header>` with the
 * recorded sha256.
 * @throws VerifyInputError (exit 2) when none is found, or one is found with another hash.
 */
export function findHeader(p: Provenance, bindingsDir: string): string {
  const tried: string[] = [];
  for (const dir of corpusDirs()) {
    const file = path.join(dir, p.version, p.header);
    tried.push(file);
    if (!existsSync(file)) continue;
    const sum = sha256File(file);
    if (sum !== p.sha256) {
      throw new VerifyInputError(`${file} has sha256 ${sum}, but the bindings in ${bindingsDir} were generated from sha256 ${p.sha256}; pass the right --header`, 2);
    }
    return file;
  }
  throw new VerifyInputError(`cannot find ${p.header} ${p.version} (sha256 ${p.sha256}) for the bindings in ${bindingsDir}: tried ${tried.join(', ')}; pass --header PATH or set VFIO_UAPI_CORPUS`, 2);
}
