/**
 * The clang oracle: what clang says a UAPI header defines, per ABI.
 *
 * Names come from clang (JSON AST for records and enum constants, `-E -dD` for
 * macros), restricted to declarations whose (expansion) location is in the
 * header file itself. Every number comes from compiling a C file for the ABI's
 * `--target` and reading the initial bytes of global constants out of the
 * object file: `sizeof`, `_Alignof`, `__builtin_offsetof` and the value of each
 * constant. Nothing is computed here except the JSON formatting. This module is
 * independent of the generator (it only reads the ABI table).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import type { Abi } from '../../generator/abi/abis.js';
import type { BitFieldJson, LayoutJson, RecordJson } from '../../generator/layout/json.js';
import { CompileError, compileObject, readUnsigned } from './elf.js';
import { clangArgs, findClang, parseErrors, runClang, siblingIncludeDir, type ClangDiagnostic } from './toolchain.js';
import { createLimiter } from './limiter.js';
import { removeTempDir } from '../cleanup.js';

// The oracle answers in the document `layout --json` prints, so the two compare directly; its values come
// from clang alone.
export type { LayoutJson } from '../../generator/layout/json.js';

/**
 * The oracle's version: what it answers for a header may change when it goes up (callers that cache its
 * answers key them by it). 2: each ABI's names are found on that ABI (1 found them once, on the first ABI).
 */
export const ORACLE_VERSION = 2;

/** Options of {@link clangLayout} and {@link clangLayoutAll}. */
export interface OracleOptions {
  /** Include root of the UAPI tree (see `uapi-tree.ts`). */
  includeRoot: string;
  /**
   * Include dirs searched after the UAPI tree for an ABI, as a system's are (clang's own headers, then the
   * ABI's glibc: see `libcIncludeDirs` in toolchain.ts); default none (`-nostdinc` alone).
   */
  systemIncludeDirs?: (abi: Abi) => readonly string[];
}

/** Options of {@link clangLayoutAll}. */
export interface OracleAllOptions extends OracleOptions {
  /** Parallel clang processes; default `os.availableParallelism()`. */
  concurrency?: number;
}

/** What a header defines, independent of the ABI (found once per header). */
export interface HeaderNames {
  /** Absolute path of the header, as clang names it. */
  readonly header: string;
  /** Candidate integer constants in definition order (macros, then enum constants). */
  readonly constants: readonly string[];
  readonly records: readonly RecordNames[];
}

/** One named record defined by the header, with its member paths. */
export interface RecordNames {
  /** `struct NAME` or `union NAME`. */
  readonly key: string;
  readonly fields: readonly string[];
  readonly bitfields: readonly string[];
}

/** One or more header/ABI pairs could not be measured; `results` has the others. */
export class OracleFailures extends Error {
  constructor(
    readonly failures: readonly { header: string; abi: string; error: Error }[],
    readonly results: readonly LayoutJson[],
  ) {
    super(`clang oracle failed for ${failures.length} header/ABI pair(s):\n` +
      failures.map((f) => `- ${f.header} (${f.abi}): ${f.error.message}`).join('\n'));
    this.name = 'OracleFailures';
  }
}

/**
 * Lays `headerPath` out for `abi` with clang. `#include <linux/X.h>` resolves
 * first to a sibling `X.h` of the header, then to the tree at `includeRoot`.
 * @throws MissingPrerequisite without a suitable clang; Error when the header does not compile.
 */
export async function clangLayout(headerPath: string, abi: Abi, opts: OracleOptions): Promise<LayoutJson> {
  const ctx = await HeaderContext.create(headerPath, opts.includeRoot, opts.systemIncludeDirs);
  try {
    const names = await ctx.discover(abi);
    return await ctx.measure(names, abi);
  } finally {
    await ctx.dispose();
  }
}

/**
 * {@link clangLayout} for every header x ABI, in header-major order. Names are found on the first ABI; on
 * each other ABI they are reused only when the header's own preprocessed text there (its lines of
 * `clang -E -dD`: declarations after macro expansion, and its `#define`s) is the same as on the first ABI,
 * else found again on that ABI (a macro the header defines only on some ABIs, a declaration under an ABI's
 * `#ifdef`); they are also found again where the reused names do not all exist (a member of a record from an
 * `asm/` header). Values are measured per ABI. Runs `concurrency` clang processes at a time.
 * @throws OracleFailures after all work is done if any pair failed.
 */
export async function clangLayoutAll(headers: readonly string[], abis: readonly Abi[], opts: OracleAllOptions): Promise<LayoutJson[]> {
  if (abis.length === 0) return [];
  for (const abi of abis) findClang(abi); // fail fast with MissingPrerequisite
  const limit = createLimiter(Math.max(1, opts.concurrency ?? availableParallelism()));
  const failures: { header: string; abi: string; error: Error }[] = [];
  const perHeader = await Promise.all(headers.map(async (header) => {
    const slots: (LayoutJson | undefined)[] = abis.map(() => undefined);
    let ctx: HeaderContext | undefined;
    try {
      ctx = await HeaderContext.create(header, opts.includeRoot, opts.systemIncludeDirs);
      const c = ctx;
      // The first ABI whose names can be found gives them; an ABI that fails is tried on its own.
      let first: { names: HeaderNames; signature: string } | undefined;
      let next = 0;
      for (; !first && next < abis.length; next++) {
        const abi = abis[next];
        try {
          const pp = await limit(() => c.preprocess(abi));
          const names = await limit(() => c.discover(abi, pp));
          first = { names, signature: pp.signature };
          slots[next] = await limit(() => c.measure(names, abi));
        } catch (err) {
          failures.push({ header, abi: abi.name, error: err as Error });
        }
      }
      const f = first;
      if (f) {
        await Promise.all(abis.slice(next).map(async (abi, k) => {
          try {
            const pp = await limit(() => c.preprocess(abi));
            if (pp.signature === f.signature) {
              try {
                slots[next + k] = await limit(() => c.measure(f.names, abi));
                return;
              } catch {
                // Records or members that exist on the first ABI only: this ABI's own names, below.
              }
            }
            slots[next + k] = await limit(async () => c.measure(await c.discover(abi, pp), abi));
          } catch (err) {
            failures.push({ header, abi: abi.name, error: err as Error });
          }
        }));
      }
    } catch (err) {
      failures.push({ header, abi: abis.map((a) => a.name).join(','), error: err as Error });
    } finally {
      await ctx?.dispose();
    }
    return slots;
  }));
  const results = perHeader.flat().filter((r): r is LayoutJson => r !== undefined);
  if (failures.length) throw new OracleFailures(failures, results);
  return results;
}

/**
 * The header's own preprocessed text on each ABI, as a hash (see {@link clangLayoutAll}): two ABIs with the
 * same signature have the same names in the header. A caller holding answers measured with one ABI's names on
 * every ABI (oracle version 1) can tell by it which of them stand.
 */
export async function clangHeaderSignatures(header: string, abis: readonly Abi[], opts: OracleAllOptions): Promise<Map<string, string>> {
  const limit = createLimiter(Math.max(1, opts.concurrency ?? availableParallelism()));
  const ctx = await HeaderContext.create(header, opts.includeRoot, opts.systemIncludeDirs);
  try {
    const out = new Map<string, string>();
    await Promise.all(abis.map((abi) => limit(async () => {
      try {
        out.set(abi.name, (await ctx.preprocess(abi)).signature);
      } catch {
        // does not preprocess on this ABI: no signature
      }
    })));
    return out;
  } finally {
    await ctx.dispose();
  }
}

/** `clang -E -dD` of a header's translation unit, with the signature of the header's own lines. */
interface Preprocessed {
  readonly text: string;
  readonly signature: string;
}

/** The per-header state: the header, and a temp dir whose `linux/` holds symlinks to its siblings. */
class HeaderContext {
  private constructor(
    readonly given: string,
    readonly header: string,
    readonly includeRoot: string,
    readonly tmp: string,
    readonly systemDirs: (abi: Abi) => readonly string[],
  ) {}

  static async create(headerPath: string, includeRoot: string, systemDirs: (abi: Abi) => readonly string[] = () => []): Promise<HeaderContext> {
    const header = path.resolve(headerPath);
    // A header of the include tree itself finds its includes there: siblings as `linux/` would turn
    // asm/'s or asm-generic/'s `types.h` into `<linux/types.h>` (the generator does the same).
    const inTree = !path.relative(path.resolve(includeRoot), header).startsWith('..');
    const tmp = inTree ? await mkdtemp(path.join(tmpdir(), 'vfio-uapi-oracle-')) : await siblingIncludeDir(header, 'vfio-uapi-oracle-');
    try {
      // Only the header's #include; -fsyntax-only and -E runs read it from here.
      await writeFile(path.join(tmp, 'tu.c'), includeLine(header));
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return new HeaderContext(headerPath, header, includeRoot, tmp, systemDirs);
  }

  dispose(): Promise<void> {
    return removeTempDir(this.tmp);
  }

  private args(abi: Abi): string[] {
    return [...clangArgs(abi, this.includeRoot, [this.tmp], this.systemDirs(abi)), '-ferror-limit=0', '-fno-caret-diagnostics', '-fno-color-diagnostics'];
  }

  /** Finds the header's records, member paths and integer constants, compiling for `abi`. */
  async discover(abi: Abi, preprocessed?: Preprocessed): Promise<HeaderNames> {
    const clang = findClang(abi);
    const tu = path.join(this.tmp, 'tu.c');
    const ast = await runClang(clang, [...this.args(abi), '-fsyntax-only', '-Xclang', '-ast-dump=json', tu]);
    if (ast.status !== 0) {
      throw new Error(`${this.given} does not compile for ${abi.name}:\n${ast.stderr.trim().split('\n').slice(0, 8).join('\n')}`);
    }
    const decls = readAst(JSON.parse(ast.stdout) as AstNode, this.header);
    const pp = preprocessed ?? await this.preprocess(abi);
    const macros = objectLikeMacros(pp.text, this.header);
    const candidates = [...new Set([...macros, ...decls.enumConstants])];
    return { header: this.header, constants: await this.integerConstants(abi, candidates), records: decls.records };
  }

  /** The translation unit through `clang -E -dD` for `abi`, and the signature of the header's own lines. */
  async preprocess(abi: Abi): Promise<Preprocessed> {
    const pp = await runClang(findClang(abi), [...this.args(abi), '-E', '-dD', path.join(this.tmp, 'tu.c')]);
    if (pp.status !== 0) throw new Error(`clang -E failed for ${this.given} (${abi.name}): ${pp.stderr.trim().split('\n').slice(0, 8).join('\n')}`);
    return { text: pp.stdout, signature: createHash('sha256').update(ownLines(pp.stdout, this.header).join('\n')).digest('hex') };
  }

  /**
   * The candidates that are integer constant expressions for `abi`: each goes on
   * its own line as an array size, lines with errors are dropped; names that
   * failed next to others are tried once more alone, so a bad neighbour cannot
   * knock out a good name.
   */
  private async integerConstants(abi: Abi, candidates: readonly string[]): Promise<string[]> {
    // File names per ABI: the ABIs of one header are checked at the same time in the same folder (a shared name
    // let one clang read another ABI's half-written file: crashes and stray errors, seen in CI).
    const clang = findClang(abi);
    const check = async (names: readonly string[], file: string): Promise<Set<string>> => {
      const { text, lineOf } = checkSource(this.header, names, (n, i) => iceCheck(n, i));
      await writeFile(file, text);
      const r = await runClang(clang, [...this.args(abi), '-fsyntax-only', file]);
      return r.status === 0 ? new Set() : failedNames(parseErrors(r.stderr), file, lineOf, r.stderr);
    };
    let good = [...candidates];
    const suspects = new Set<string>();
    for (let round = 0; good.length; round++) {
      const failed = await check(good, path.join(this.tmp, `ice-${abi.name}.c`));
      if (failed.size === 0) break;
      if (round > 20) throw new Error(`integer-constant check of ${this.given} does not converge`);
      for (const n of failed) suspects.add(n);
      good = good.filter((n) => !failed.has(n));
    }
    const rescued = new Set<string>();
    // The suspects once more, among themselves only: most are plainly not integer constants (strings, types,
    // empty macros) and fail again on their own lines; one clang run instead of one per name.
    const again = suspects.size > 1 ? await check([...suspects], path.join(this.tmp, `again-${abi.name}.c`)).catch(() => undefined) : undefined;
    for (const n of suspects) {
      if (again && !again.has(n)) { rescued.add(n); continue; }
      if (again && suspects.size > 8) continue;
      // Alone, any error at all (even one clang places elsewhere) means the name is out.
      if ((await check([n], path.join(this.tmp, `one-${abi.name}.c`)).catch(() => undefined))?.size === 0) rescued.add(n);
    }
    return candidates.filter((n) => !suspects.has(n) || rescued.has(n));
  }

  /** Compiles the values of `names` for `abi` into an object file and reads them back. */
  async measure(names: HeaderNames, abi: Abi): Promise<LayoutJson> {
    const clang = findClang(abi);
    let constants = [...names.constants];
    for (let round = 0; ; round++) {
      const recordLines = names.records.map((r, i) => recordLine(r, i));
      const { text, lineOf } = checkSource(this.header, constants, valueLines, recordLines);
      let symbols: Map<string, Uint8Array>;
      try {
        ({ symbols } = await compileObject(text, abi, { includeRoot: this.includeRoot, extraIncludeDirs: [this.tmp], systemIncludeDirs: this.systemDirs(abi), clang }));
      } catch (err) {
        if (!(err instanceof CompileError) || round > 5) throw err;
        // A name that is an integer constant expression for the first ABI but not this one.
        const failed = failedNames(err.errors, err.sourcePath, lineOf, err.stderr);
        constants = constants.filter((n) => !failed.has(n));
        continue;
      }
      const value = (sym: string): bigint => {
        const bytes = symbols.get(sym);
        if (!bytes) throw new Error(`object file for ${abi.name} lacks ${sym}`);
        return readUnsigned(bytes, abi.endian);
      };
      const out: LayoutJson = { header: this.given, abi: abi.name, constants: {}, records: {} };
      constants.forEach((n, i) => {
        const u = value(`__vo_c${i}`);
        out.constants[n] = jsonInteger(value(`__vo_n${i}`) !== 0n ? u - (1n << 64n) : u);
      });
      names.records.forEach((r, i) => {
        const rec: RecordJson = { size: Number(value(`__vo_s${i}`)), align: Number(value(`__vo_a${i}`)), fields: {} };
        r.fields.forEach((f, j) => { rec.fields[f] = Number(value(`__vo_f${i}_${j}`)); });
        r.bitfields.forEach((f, j) => {
          const bytes = symbols.get(`__vo_b${i}_${j}`);
          if (!bytes) throw new Error(`object file for ${abi.name} lacks __vo_b${i}_${j}`);
          rec.fields[f] = bitPlace(bytes, abi.endian, `${r.key}.${f}`);
        });
        out.records[r.key] = rec;
      });
      return out;
    }
  }
}

/**
 * Where the set bits of an object lie, in allocation order (from the least
 * significant bit of byte 0 on little-endian ABIs, the most significant on
 * big-endian ones): a bit-field's position, from an object with only it set.
 */
function bitPlace(bytes: Uint8Array, endian: 'little' | 'big', what: string): BitFieldJson {
  const bits: number[] = [];
  bytes.forEach((b, k) => {
    for (let i = 0; i < 8; i++) if (b & (1 << i)) bits.push(k * 8 + (endian === 'little' ? i : 7 - i));
  });
  bits.sort((a, b) => a - b);
  const first = bits[0];
  if (first === undefined || bits[bits.length - 1]! - first + 1 !== bits.length) throw new Error(`cannot locate bit-field ${what}: bits ${bits.join(',')}`);
  return { bit_offset: first, bit_width: bits.length };
}

// ---------------------------------------------------------------------------
// Generated C

/**
 * The header, after the four headers vfio-uapi reads implicitly (README: a header that uses
 * `_IO*` or `__u32` without including `<linux/ioctl.h>` or `<linux/types.h>` still works), so
 * that clang judges the header in the same setting as the generator.
 */
function includeLine(header: string): string {
  const implicit = ['linux/types.h', 'linux/ioctl.h', 'linux/stddef.h', 'linux/const.h'].map((h) => `#include <${h}>\n`).join('');
  return `${implicit}#include ${JSON.stringify(header)}\n`;
}

/** The ICE check: an array size must be an integer constant expression (GNU folding is made an error). */
function iceCheck(name: string, i: number): string {
  return `typedef char __vo_k${i}[((${name}) - (${name})) + 1];`;
}

/** ICE check plus the value (as unsigned long long) and whether it is negative. */
function valueLines(name: string, i: number): string {
  return `${iceCheck(name, i)} const unsigned long long __vo_c${i} = (unsigned long long)(${name}); const int __vo_n${i} = (${name}) < 0;`;
}

function recordLine(r: RecordNames, i: number): string {
  const u = 'const unsigned long long';
  return [
    `${u} __vo_s${i} = sizeof(${r.key}); ${u} __vo_a${i} = _Alignof(${r.key});`,
    ...r.fields.map((f, j) => `${u} __vo_f${i}_${j} = __builtin_offsetof(${r.key}, ${f});`),
    // A bit-field has no offsetof: an object with only its bits set (to all ones) shows where it lies.
    ...r.bitfields.map((f, j) => `const ${r.key} __vo_b${i}_${j} = { .${f} = -1 };`),
  ].join('\n');
}

/** A C file: the header, then one line per name (line numbers recorded), then `tail`. */
function checkSource(header: string, names: readonly string[], line: (n: string, i: number) => string, tail: readonly string[] = []) {
  const lines = [...includeLine(header).trimEnd().split('\n'), '#pragma clang diagnostic error "-Wgnu-folding-constant"'];
  const lineOf = new Map<number, string>();
  names.forEach((n, i) => {
    lines.push(line(n, i));
    lineOf.set(lines.length, n);
  });
  lines.push(...tail, '');
  return { text: lines.join('\n'), lineOf };
}

/** Names whose line has an error; throws if an error is anywhere else. */
function failedNames(errors: readonly ClangDiagnostic[], file: string, lineOf: Map<number, string>, stderr: string): Set<string> {
  const failed = new Set<string>();
  for (const e of errors) {
    const name = e.file === file ? lineOf.get(e.line) : undefined;
    if (name === undefined) throw new Error(`unexpected clang error ${e.file}:${e.line}:${e.column}: ${e.message}\n${stderr.trim().split('\n').slice(0, 8).join('\n')}`);
    failed.add(name);
  }
  if (errors.length === 0) throw new Error(`clang failed without error diagnostics:\n${stderr.trim()}`);
  return failed;
}

/** A JSON number when exactly representable, else a decimal string. */
function jsonInteger(v: bigint): number | string {
  return v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v.toString();
}

// ---------------------------------------------------------------------------
// Macros from `clang -E -dD`

/** The non-empty lines of `file` itself in `clang -E -dD` output (markers tracked as in {@link objectLikeMacros}). */
function ownLines(preprocessed: string, file: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of preprocessed.split('\n')) {
    if (line.startsWith('# ')) {
      const m = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line);
      if (m) current = m[1].replace(/\\(.)/g, '$1');
      continue;
    }
    if (current === file && line.trim()) out.push(line.trim());
  }
  return out;
}

/**
 * Object-like macros `#define`d in `file` (and not `#undef`ined there later), in
 * order. The current file is tracked from the `# LINE "FILE" FLAGS` markers.
 */
function objectLikeMacros(preprocessed: string, file: string): string[] {
  const names = new Map<string, boolean>();
  let current = '';
  for (const line of preprocessed.split('\n')) {
    if (line.startsWith('# ')) {
      const m = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line);
      if (m) current = m[1].replace(/\\(.)/g, '$1');
      continue;
    }
    if (current !== file) continue;
    const def = /^#define ([A-Za-z_]\w*)(\(?)/.exec(line);
    if (def) {
      names.delete(def[1]);
      if (!def[2]) names.set(def[1], true);
      continue;
    }
    const undef = /^#undef ([A-Za-z_]\w*)/.exec(line);
    if (undef) names.delete(undef[1]);
  }
  return [...names.keys()];
}

// ---------------------------------------------------------------------------
// Records and enum constants from clang's JSON AST

interface AstType {
  qualType: string;
  desugaredQualType?: string;
  typeAliasDeclId?: string;
}

/** The complete record a typedef's RecordType refers to, through any typedef chain. */
function findRecordTypeIn(node: AstNode, tags: Map<string, AstNode>): AstNode | undefined {
  for (const child of node.inner ?? []) {
    const decl = (child as { decl?: { id?: string; kind?: string } }).decl;
    if (child.kind === 'RecordType' && decl?.id) {
      const rec = tags.get(`id ${decl.id}`);
      if (rec?.completeDefinition) return rec;
      const named = rec?.name ? tags.get(`${rec.tagUsed} ${rec.name}`) : undefined;
      if (named) return named;
    }
    if (child.kind === 'TypedefType' && decl?.id) {
      const next = tags.get(`id ${decl.id}`);
      if (next) return findRecordTypeIn(next, tags);
    }
    const deeper = findRecordTypeIn(child, tags);
    if (deeper) return deeper;
  }
  return undefined;
}

interface AstNode {
  kind?: string;
  name?: string;
  tagUsed?: string;
  completeDefinition?: boolean;
  isBitfield?: boolean;
  type?: AstType;
  loc?: unknown;
  inner?: AstNode[];
  [key: string]: unknown;
}

/**
 * The named records and enum constants whose location is in `file`.
 *
 * clang writes a location's `file` only when it differs from the previous
 * location written, so the walk follows the JSON in document order, updating the
 * current file at every location object (anything with an `offset`). A
 * declaration's file is that of its `loc` after the expansion location: for a
 * declaration made by a macro, where the macro was used.
 */
function readAst(root: AstNode, file: string): { records: RecordNames[]; enumConstants: string[] } {
  const fileOf = new Map<AstNode, string>();
  /** `file:line:col` of each declaration's location (line, like file, is elided when unchanged). */
  const placeOf = new Map<AstNode, string>();
  let current = '';
  let currentLine = 0;
  let currentCol = 0;
  const scan = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(scan);
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.offset === 'number' && typeof o.file === 'string') current = o.file;
      if (typeof o.offset === 'number' && typeof o.line === 'number') currentLine = o.line;
      if (typeof o.offset === 'number' && typeof o.col === 'number') currentCol = o.col;
      for (const k of Object.keys(o)) if (k !== 'includedFrom') scan(o[k]);
    }
  };
  const walk = (node: AstNode): void => {
    for (const key of Object.keys(node)) {
      if (key === 'inner') {
        for (const child of node.inner ?? []) walk(child);
      } else {
        scan(node[key]);
        if (key === 'loc') {
          fileOf.set(node, current);
          placeOf.set(node, `${current}:${currentLine}:${currentCol}`);
        }
      }
    }
  };
  walk(root);

  const tags = new Map<string, AstNode>();
  const own: AstNode[] = [];
  const enumConstants: string[] = [];
  const collect = (node: AstNode): void => {
    if (typeof node.id === 'string') tags.set(`id ${node.id}`, node);
    // Unnamed records are named by clang's types as `(unnamed struct at FILE:LINE:COL)`.
    if (node.kind === 'RecordDecl' && node.completeDefinition && !node.name) tags.set(`unnamed ${placeOf.get(node)}`, node);
    if (node.kind === 'RecordDecl' && node.completeDefinition && node.name) {
      const key = `${node.tagUsed} ${node.name}`;
      tags.set(key, node);
      if (fileOf.get(node) === file) own.push(node);
    } else if (node.kind === 'EnumConstantDecl' && node.name && fileOf.get(node) === file) {
      enumConstants.push(node.name);
    }
    node.inner?.forEach(collect);
  };
  collect(root);

  const records = own.map((node) => {
    const fields: string[] = [];
    const bitfields: string[] = [];
    memberPaths(node, '', tags, fields, bitfields, 0);
    return { key: `${node.tagUsed} ${node.name}`, fields, bitfields };
  });
  return { records, enumConstants };
}

/**
 * Appends the member-access paths of `rec`'s fields: members of anonymous
 * structs/unions as direct members; a named member of record type as itself and
 * as `name.inner...`; arrays, pointers and scalars as just their name.
 */
function memberPaths(rec: AstNode, prefix: string, tags: Map<string, AstNode>, fields: string[], bitfields: string[], depth: number): void {
  if (depth > 64) throw new Error(`record nesting too deep at ${prefix}`);
  let lastUnnamed: AstNode | undefined;
  for (const child of rec.inner ?? []) {
    if (child.kind === 'RecordDecl' && !child.name && child.completeDefinition) {
      lastUnnamed = child;
      continue;
    }
    if (child.kind !== 'FieldDecl') continue;
    if (child.isBitfield) {
      if (child.name) bitfields.push(prefix + child.name);
      continue;
    }
    const target = recordOfType(child.type, lastUnnamed, tags);
    if (!child.name) {
      if (target) memberPaths(target, prefix, tags, fields, bitfields, depth + 1);
      continue;
    }
    fields.push(prefix + child.name);
    if (target) memberPaths(target, `${prefix}${child.name}.`, tags, fields, bitfields, depth + 1);
  }
}

/**
 * The record definition a field's type names, if the type is a struct/union
 * (not an array of, or pointer to, one). An unnamed record type can only be
 * used by the declarators right after its definition, hence `lastUnnamed`.
 */
function recordOfType(type: AstType | undefined, lastUnnamed: AstNode | undefined, tags: Map<string, AstNode>): AstNode | undefined {
  if (!type) return undefined;
  // A typedef of a record (`__kernel_fsid_t fsid`): clang names the alias; its RecordType names the record.
  const alias = typeof type.typeAliasDeclId === 'string' ? tags.get(`id ${type.typeAliasDeclId}`) : undefined;
  if (alias && !/[*[]/.test(type.qualType)) {
    const decl = findRecordTypeIn(alias, tags);
    if (decl) return decl;
  }
  const t = (type.desugaredQualType ?? type.qualType).replace(/^(?:(?:const|volatile)\s+)+/, '');
  const m = /^(struct|union)\s+(.*)$/.exec(t);
  if (!m) return undefined;
  const rest = m[2];
  if (/^[A-Za-z_]\w*$/.test(rest)) {
    const def = tags.get(`${m[1]} ${rest}`);
    if (!def) throw new Error(`no definition of ${m[1]} ${rest}`);
    return def;
  }
  if (/^(?:\w+::)*\((?:unnamed|anonymous)\b.*\)$/.test(rest)) {
    const at = /\((?:unnamed|anonymous) (?:struct|union) at (.+)\)$/.exec(rest);
    const byPlace = at ? tags.get(`unnamed ${at[1]}`) : undefined;
    if (byPlace) return byPlace;
    if (!lastUnnamed) throw new Error(`cannot tell which unnamed record '${t}' is`);
    return lastUnnamed;
  }
  return undefined; // pointer, array, function
}
