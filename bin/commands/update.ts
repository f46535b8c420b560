/**
 * `vfio-uapi update`: take a Debian suite's `linux-libc-dev`, regenerate the
 * bindings of its `vfio.h` and `iommufd.h`, and show the ABI diff against the
 * committed ones.
 *
 * All or nothing: the package is fetched, both headers are parsed, diffed and
 * generated in memory first; only then is each module's directory replaced
 * (atomically, by `writeFileSet`), and when one write fails the modules already
 * written are restored. Nothing is committed: the tree is left for review.
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseProvenance, type Provenance } from '../../generator/provenance.js';
import { corpusDirs } from '../../generator/paths.js';
import { findBySha256, headerCandidates, sha256File } from '../../generator/headers.js';
import { diffFileSet, generateBindings, writeFileSet, type FileSet } from '../../generator/pipeline/generate.js';
import { diffHeaderFiles, diffText, type HeaderDiff } from '../../generator/diff/index.js';
import { defaultCacheDir, fetchSuiteUapiTree, SUITE_TREES_DIR } from '../../conformance/clang/uapi-tree.js';
import { CliError, EXIT } from './common.js';

/** Options of the update command. */
export interface UpdateCommandOptions {
  /** Debian suite to take `linux-libc-dev` from. */
  suite: string;
  /** The bindings directory (`generated`): modules go to `<out>/vfio` and `<out>/iommufd`. */
  out: string;
  /** Replace bindings generated from a newer header with an older one. */
  allowDowngrade?: boolean;
}

/** A fetched header tree: its include root (`.../usr/include`) and the package version. */
export interface HeaderTree {
  readonly include: string;
  readonly version: string;
}

/** What the command needs from outside, replaceable in tests. */
export interface UpdateDeps {
  /** Fetches the suite's tree (default: {@link fetchSuiteUapiTree}, which downloads). */
  fetchTree?: (suite: string) => Promise<HeaderTree>;
  /** Writes one module's files (default: `writeFileSet`). */
  write?: (dir: string, files: FileSet) => void;
  /** Header corpora to look the committed header up in (default: `$VFIO_UAPI_CORPUS`, else `../shared/uapi`). */
  corpora?: readonly string[];
  /** The cache to look the committed header up in (default: `$VFIO_UAPI_CACHE` or `~/.cache/vfio-uapi`). */
  cacheDir?: string;
}

/** Options of {@link updateFromTree}. */
export interface UpdateFromTreeOptions extends Omit<UpdateDeps, 'fetchTree'> {
  readonly tree: HeaderTree;
  readonly out: string;
  /** Modules to update (default: `vfio`, `iommufd`), each from `<include>/linux/<name>.h`. */
  readonly modules?: readonly string[];
  /** Replace bindings generated from a newer header with an older one (refused otherwise). */
  readonly allowDowngrade?: boolean;
}

/** The bindings' record of the header they were generated from. */
export type { Provenance };

/** What happened to one module. */
export interface ModuleUpdate {
  readonly name: string;
  /** The new header. */
  readonly header: string;
  readonly version: string;
  readonly sha256: string;
  /** What the committed bindings record, if there are any. */
  readonly committed?: Provenance;
  /** The committed header, where it was found. */
  readonly oldHeader?: string;
  /** Why there is no diff, when there is none. */
  readonly note?: string;
  readonly diff?: HeaderDiff;
  /** Files that differ from the committed ones (`rel (not generated any more)` for removed ones). */
  readonly changedFiles: readonly string[];
  /** How many of those differ only in the provenance line. */
  readonly provenanceOnly: number;
  /** The changed files that differ in more than the provenance line. */
  readonly contentChanged: readonly string[];
  /**
   * Whether the module was written. It is not when nothing changed, nor when the
   * header is byte-identical to the committed one and only the version label of
   * the provenance line would change (that relabelling is no update).
   */
  readonly written: boolean;
  readonly dir: string;
}

/** The result of an update. */
export interface UpdateReport {
  readonly tree: HeaderTree;
  readonly modules: readonly ModuleUpdate[];
}

/** Reads the provenance line of committed bindings (`<dir>/index.ts`), if any. */
export function readProvenance(dir: string): Provenance | undefined {
  const index = join(dir, 'index.ts');
  if (!existsSync(index)) return undefined;
  return parseProvenance(readFileSync(index, 'utf8').split('\n', 1)[0]!);
}

const sha256Of = sha256File;

/** Default corpora: `$VFIO_UAPI_CORPUS`, else `../shared/uapi` beside the package and beside the working directory. */
const defaultCorpora = corpusDirs;

/** The upstream part of a Debian version: `1:7.2.13-1` -> `7.2.13`. */
function upstreamOf(version: string): string {
  return version.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/**
 * Compares two kernel header versions by their upstream parts, numerically
 * (`6.12.117-1~bpo12+1` < `7.2.13`): negative, zero or positive; undefined when
 * either has no leading number.
 */
export function compareHeaderVersions(a: string, b: string): number | undefined {
  const parts = (v: string) => /^\d+(\.\d+)*/.exec(upstreamOf(v))?.[0].split('.').map(Number);
  const x = parts(a);
  const y = parts(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Finds the header the committed bindings were generated from: `<corpus>/<version>/<file>`
 * or a cached tree of that version first, then any corpus or cached header with the
 * recorded sha256. Only a file whose sha256 matches is returned.
 */
export function findCommittedHeader(p: Provenance, corpora: readonly string[], cacheDir: string): { path?: string; tried: string[] } {
  const versionDirs = [...new Set([p.version, upstreamOf(p.version)])];
  const trees = join(cacheDir, SUITE_TREES_DIR);
  const treeVersions = versionDirs.map((v) => v.replace(/[^\w.+~-]/g, '_'));
  const inCorpora = headerCandidates(p.header, corpora, versionDirs);
  const inTrees = headerCandidates(join('usr', 'include', 'linux', p.header), [trees], treeVersions);
  const named = [...inCorpora.slice(0, corpora.length * versionDirs.length), ...inTrees.slice(0, treeVersions.length)];
  const anyVersion = [...inCorpora, ...inTrees, join(cacheDir, 'linux-libc-dev', 'usr', 'include', 'linux', p.header)];
  return findBySha256(p.sha256, [...new Set([...named, ...anyVersion])]);
}

/** Every file under `dir` (relative paths, `/`-separated) with its text; undefined when `dir` does not exist. */
function readFileSet(dir: string): FileSet | undefined {
  if (!existsSync(dir)) return undefined;
  const files: FileSet = new Map();
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p).split(sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

/** Whether a changed file differs from its committed version only in its first (provenance) line. */
function provenanceOnly(before: FileSet | undefined, after: FileSet, rel: string): boolean {
  const rest = (t: string) => t.slice(t.indexOf('\n') + 1);
  const old = before?.get(rel);
  const now = after.get(rel);
  return old !== undefined && now !== undefined && rest(old) === rest(now);
}

/**
 * Regenerates `<out>/<module>` for each module from `<tree.include>/linux/<module>.h`
 * (provenance version: the package version) and diffs each header against the
 * committed one. Everything is computed before anything is written; a failed
 * write restores the modules already written.
 * @throws HeaderError when a header does not parse; Error when a header is missing or a write fails.
 */
export function updateFromTree(opts: UpdateFromTreeOptions): UpdateReport {
  const write = opts.write ?? writeFileSet;
  const corpora = opts.corpora ?? defaultCorpora();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const modules = opts.modules ?? ['vfio', 'iommufd'];

  // 1. Everything in memory.
  for (const name of modules) {
    const header = join(opts.tree.include, 'linux', `${name}.h`);
    if (!existsSync(header)) throw new CliError(`linux-libc-dev ${opts.tree.version} has no linux/${name}.h: nothing was changed`);
    const committed = readProvenance(resolve(opts.out, name));
    const order = committed ? compareHeaderVersions(opts.tree.version, committed.version) : undefined;
    if (order !== undefined && order < 0 && !opts.allowDowngrade) {
      throw new CliError(`refusing to replace ${join(opts.out, name)} (from ${name}.h ${committed!.version}) with the older ${opts.tree.version}: pass --allow-downgrade to do it anyway; nothing was changed`);
    }
  }
  const planned = modules.map((name) => {
    const header = join(opts.tree.include, 'linux', `${name}.h`);
    const dir = resolve(opts.out, name);
    const files = generateBindings({ header, out: opts.out, name, version: opts.tree.version });
    const before = readFileSet(dir);
    const changedFiles = diffFileSet(dir, files);
    const committed = readProvenance(dir);
    let oldHeader: string | undefined;
    let note: string | undefined;
    let diff: HeaderDiff | undefined;
    if (!committed) {
      note = `no committed bindings in ${dir} (or no provenance line): nothing to diff against`;
    } else {
      const found = findCommittedHeader(committed, corpora, cacheDir);
      oldHeader = found.path;
      if (oldHeader) diff = diffHeaderFiles(oldHeader, header);
      else {
        note = `the committed header (${committed.header} ${committed.version}, sha256 ${committed.sha256}) was not found in ${[...corpora, cacheDir].join(' or ')}`
          + `${found.tried.length ? ` (other versions there differ)` : ''}: no ABI diff, only the generated files are compared`;
      }
    }
    const sha256 = sha256Of(header);
    const contentChanged = changedFiles.filter((rel) => !provenanceOnly(before, files, rel));
    const relabelOnly = committed?.sha256 === sha256 && contentChanged.length === 0;
    const update: ModuleUpdate = {
      name, header, version: opts.tree.version, sha256, committed, oldHeader, note, diff, dir,
      changedFiles, provenanceOnly: changedFiles.length - contentChanged.length, contentChanged,
      written: changedFiles.length > 0 && !relabelOnly,
    };
    return { update, files, before };
  });

  // 2. Write, restoring on failure.
  const written: { dir: string; before: FileSet | undefined }[] = [];
  try {
    for (const p of planned) {
      if (!p.update.written) continue;
      written.push({ dir: p.update.dir, before: p.before });
      write(p.update.dir, p.files);
    }
  } catch (e) {
    for (const w of written.reverse()) {
      if (w.before) writeFileSet(w.dir, w.before);
      else rmSync(w.dir, { recursive: true, force: true });
    }
    throw e;
  }
  return { tree: opts.tree, modules: planned.map((p) => p.update) };
}

/** The report in words: per module, the versions, the ABI diff, and the files changed. */
export function formatUpdateReport(report: UpdateReport, out: string): string {
  const lines: string[] = [`linux-libc-dev ${report.tree.version}: ${report.tree.include}`];
  const short = (sha: string) => sha.slice(0, 12);
  for (const m of report.modules) {
    const file = `${m.name}.h`;
    lines.push('', `== ${m.name}: ${file} ${m.committed ? `${m.committed.version} (sha256 ${short(m.committed.sha256)})` : '(none)'} -> ${m.version} (sha256 ${short(m.sha256)})`);
    if (m.oldHeader) lines.push(`old header: ${m.oldHeader}`);
    if (m.note) lines.push(m.note);
    if (m.diff) {
      if (m.committed?.sha256 === m.sha256) lines.push('the header is byte-identical: no ABI changes');
      else {
        lines.push(diffText(m.diff, `${file} ${m.committed!.version}`, `${file} ${m.version}`).trimEnd());
      }
    }
    const where = join(out, m.name);
    if (m.changedFiles.length === 0) lines.push(`${where}: up to date`);
    else if (!m.written) {
      lines.push(`${where}: left as it is: the header is the committed one, only the provenance line's version (${m.committed!.version} -> ${m.version}) would change`);
    } else {
      const more = m.changedFiles.length - m.provenanceOnly;
      const parts = [`${m.changedFiles.length} files changed`];
      if (m.provenanceOnly > 0) parts.push(`${m.provenanceOnly} only in their provenance line`);
      if (more > 0) parts.push(`${more} in their content`);
      lines.push(`${where}: ${parts.join(', ')}`);
      if (more > 0) lines.push(`  ${m.contentChanged.join(', ')}`);
    }
  }
  const touched = report.modules.filter((m) => m.written);
  lines.push('', touched.length === 0
    ? 'nothing to update'
    : `updated ${touched.map((m) => join(out, m.name)).join(' and ')}; review with \`git diff -- ${out}\` (nothing was committed)`);
  return `${lines.join('\n')}\n`;
}

/** Fetches the suite's `linux-libc-dev`, regenerates the bindings and prints the report. */
export async function updateCommand(opts: UpdateCommandOptions, deps: UpdateDeps = {}): Promise<void> {
  const log = (m: string) => process.stderr.write(`update: ${m}\n`);
  const fetchTree = deps.fetchTree ?? ((suite: string) => fetchSuiteUapiTree({ suite, cacheDir: deps.cacheDir, log }));
  let tree: HeaderTree;
  try {
    tree = await fetchTree(opts.suite);
  } catch (e) {
    // One line: apt's own message names what is wrong (an unknown suite, no network).
    const first = ((e as Error).message.split('\n').find((l) => /E: |error|not|unable/i.test(l)) ?? (e as Error).message.split('\n')[0]!).trim();
    throw new CliError(`cannot get linux-libc-dev from Debian suite '${opts.suite}': ${first}`, (e as Error).name === 'MissingPrerequisite' ? EXIT.PREREQUISITE : EXIT.USAGE);
  }
  const report = updateFromTree({ ...deps, tree, out: opts.out, allowDowngrade: opts.allowDowngrade });
  process.stdout.write(formatUpdateReport(report, opts.out));
}
