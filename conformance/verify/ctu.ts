/**
 * One C translation unit per header and ABI, compiled with clang into an
 * object file whose initial data is read back: the values of C expressions
 * ("probes", packed into one `unsigned long long` array) and the bytes of
 * initialised objects. Nothing foreign runs, so every ABI works on any host.
 *
 * Lines that clang rejects are attributed to what put them there: a probe
 * (a name the bindings claim that C does not know), or a designator of an
 * object initialiser. A designator that overrides an earlier one (a later
 * member of a union; `-Werror=initializer-overrides`) is dropped silently,
 * which is how the round trip initialises only the first member of a union.
 */
import type { Abi } from '../../generator/abi/abis.js';
import { CompileError, compileObject, readUnsigned } from '../clang/elf.js';
import { findClang, siblingIncludeDir as siblingDir, type ClangBinary } from '../clang/toolchain.js';

/** Some C expressions whose values are read back as 64-bit unsigned integers. */
export interface Probe {
  /** Unique key, e.g. `off:struct vfio_region_info.size`. */
  readonly key: string;
  /** Integer constant expressions (each converted to `unsigned long long`). */
  readonly exprs: readonly string[];
}

/** One designator of an object initialiser: `.path = value`. */
export interface Designator {
  /** Unique within its object (`header.id`, `ste[1]`). */
  readonly key: string;
  /** The C text, `.header.id = 0x8123U`. */
  readonly text: string;
}

/** A global object `const <type> <symbol> = { designators };`. */
export interface CObject {
  readonly symbol: string;
  /** C type, `struct vfio_region_info`. */
  readonly type: string;
  readonly designators: readonly Designator[];
}

/** Where and how a header is compiled. */
export interface HeaderUnit {
  /** Absolute path of the header; it is included where it lies. */
  readonly header: string;
  /** Include root of the UAPI tree with every arch's `asm/`. */
  readonly includeRoot: string;
  /** A directory whose `linux/` holds the header's siblings (see {@link siblingIncludeDir}). */
  readonly siblingDir: string;
}

/** What clang made of a translation unit. */
export interface UnitResult {
  /** Probe key -> values, one per expression. */
  readonly values: Map<string, bigint[]>;
  /** Probe key -> clang's first error on its line (the probe was left out). */
  readonly failed: Map<string, string>;
  /** Object symbol -> its bytes (objects whose type clang rejects are absent). */
  readonly objects: Map<string, Uint8Array>;
  /** Object symbol -> rejected designator key -> reason (`override` for a later union member, else clang's error). */
  readonly dropped: Map<string, Map<string, string>>;
  /** Object symbol -> clang's error, for objects left out entirely. */
  readonly failedObjects: Map<string, string>;
  /** Number of clang runs it took. */
  readonly compiles: number;
}

const VALUES = '__vu_values';
export const OVERRIDE = 'override';

/** A temp dir whose `linux/` holds the header's siblings (as the oracle's); the caller removes it. */
export function siblingIncludeDir(header: string): Promise<string> {
  return siblingDir(header, 'vfio-uapi-verify-');
}

type LineOwner =
  | { kind: 'probe'; key: string }
  | { kind: 'object'; symbol: string }
  | { kind: 'designator'; symbol: string; key: string };

/**
 * Compiles the header with `probes` and `objects` for `abi` and reads the
 * results back. Rejected lines are left out and the unit is compiled again
 * (a few rounds at most); `preDropped` designators are left out from the start.
 * @throws CompileError for errors that no line of ours explains (the header itself does not compile).
 */
export async function compileUnit(
  unit: HeaderUnit,
  abi: Abi,
  probes: readonly Probe[],
  objects: readonly CObject[],
  preDropped: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(),
): Promise<UnitResult> {
  const clang = findClang(abi);
  const failed = new Map<string, string>();
  const failedObjects = new Map<string, string>();
  const dropped = new Map<string, Map<string, string>>();
  for (const [sym, m] of preDropped) dropped.set(sym, new Map(m));
  for (let round = 1; ; round++) {
    const activeProbes = probes.filter((p) => !failed.has(p.key));
    const activeObjects = objects.filter((o) => !failedObjects.has(o.symbol));
    const { text, owners } = unitSource(unit.header, activeProbes, activeObjects, dropped);
    let symbols: Map<string, Uint8Array>;
    try {
      ({ symbols } = await compileObject(text, abi, {
        includeRoot: unit.includeRoot,
        extraIncludeDirs: [unit.siblingDir],
        clang,
        extraArgs: UNIT_ARGS,
      }));
    } catch (err) {
      if (!(err instanceof CompileError) || round > 8) throw err;
      const blamed = blame(err.stderr, err.sourcePath, owners);
      if (blamed === undefined) throw err;
      for (const symbol of blamed.objects) {
        const o = activeObjects.find((x) => x.symbol === symbol)!;
        const m = dropped.get(symbol) ?? new Map<string, string>();
        const found = await firstBadDesignator(unit, abi, clang, o, m);
        if (found) m.set(found.key, found.reason);
        else failedObjects.set(symbol, 'clang rejects it (error without a location)');
        dropped.set(symbol, m);
      }
      for (const { owner, message } of blamed.lines) {
        if (owner.kind === 'probe') {
          if (!failed.has(owner.key)) failed.set(owner.key, message);
        } else if (owner.kind === 'object') {
          if (!failedObjects.has(owner.symbol)) failedObjects.set(owner.symbol, message);
        } else {
          const m = dropped.get(owner.symbol) ?? new Map<string, string>();
          if (!m.has(owner.key)) m.set(owner.key, /initializer overrides prior initialization/.test(message) ? OVERRIDE : message);
          dropped.set(owner.symbol, m);
        }
      }
      continue;
    }
    const values = new Map<string, bigint[]>();
    const packed = symbols.get(VALUES);
    if (!packed) throw new Error(`object file for ${abi.name} lacks ${VALUES}`);
    let slot = 0;
    const word = (i: number) => readUnsigned(packed.subarray(i * 8, i * 8 + 8), abi.endian);
    for (const p of activeProbes) {
      values.set(p.key, p.exprs.map(() => word(slot++)));
    }
    const objs = new Map<string, Uint8Array>();
    for (const o of activeObjects) {
      const bytes = symbols.get(o.symbol);
      if (!bytes) throw new Error(`object file for ${abi.name} lacks ${o.symbol}`);
      objs.set(o.symbol, bytes);
    }
    return { values, failed, objects: objs, dropped, failedObjects, compiles: round };
  }
}

/**
 * The first designator of `o` (leaving out `gone`) that makes clang fail: the
 * shortest failing prefix, by bisection; each step compiles only this object.
 */
async function firstBadDesignator(unit: HeaderUnit, abi: Abi, clang: ClangBinary, o: CObject, gone: ReadonlyMap<string, string>): Promise<{ key: string; reason: string } | undefined> {
  const ds = o.designators.filter((d) => !gone.has(d.key));
  const fails = async (n: number): Promise<string | undefined> => {
    const part: CObject = { ...o, designators: ds.slice(0, n) };
    const { text } = unitSource(unit.header, [], [part], new Map());
    try {
      await compileObject(text, abi, { includeRoot: unit.includeRoot, extraIncludeDirs: [unit.siblingDir], clang, extraArgs: UNIT_ARGS });
      return undefined;
    } catch (err) {
      if (!(err instanceof CompileError)) throw err;
      return (/^(?:.*?: )?error: (.*)$/m.exec(err.stderr)?.[1] ?? 'error').replace(/ \[-W[^\]]*\]$/, '');
    }
  };
  let lo = 0; // prefix of lo designators compiles
  let hi = ds.length; // prefix of hi designators fails
  let reason = await fails(hi);
  if (reason === undefined) return undefined;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await fails(mid);
    if (r === undefined) lo = mid;
    else {
      hi = mid;
      reason = r;
    }
  }
  return { key: ds[hi - 1].key, reason: /initializer overrides prior initialization/.test(reason) ? OVERRIDE : reason };
}

const UNIT_ARGS = ['-Wno-everything', '-Werror=initializer-overrides'];

function unitSource(header: string, probes: readonly Probe[], objects: readonly CObject[], dropped: ReadonlyMap<string, ReadonlyMap<string, string>>) {
  const lines: string[] = [`#include ${JSON.stringify(header)}`, `const unsigned long long ${VALUES}[] = {`];
  const owners = new Map<number, LineOwner>();
  for (const p of probes) {
    lines.push(`  ${p.exprs.map((e) => `(unsigned long long)(${e}),`).join(' ')}`);
    owners.set(lines.length, { kind: 'probe', key: p.key });
  }
  lines.push('  0ULL', '};');
  for (const o of objects) {
    lines.push(`const ${o.type} ${o.symbol} = {`);
    owners.set(lines.length, { kind: 'object', symbol: o.symbol });
    const gone = dropped.get(o.symbol);
    for (const d of o.designators) {
      if (gone?.has(d.key)) continue;
      lines.push(`  ${d.text},`);
      owners.set(lines.length, { kind: 'designator', symbol: o.symbol, key: d.key });
    }
    lines.push('};');
  }
  lines.push('');
  return { text: lines.join('\n'), owners };
}

/** What clang's errors point at. */
interface Blame {
  /** Errors on (or, through macro notes, expanded on) a line of ours. */
  readonly lines: { owner: LineOwner; message: string }[];
  /** Objects with an error that has no location (an implicit member, such as an anonymous struct in a union), whose offending designator must be searched for. */
  readonly objects: Set<string>;
}

/**
 * The lines of ours that clang's errors point at: the error's own location, or
 * the first `note:` location after it in our file (an error inside a macro of
 * the header, expanded on our line). An error without a location whose notes
 * point into an object puts the object in `objects`. Undefined when some error
 * is not explained by any line of ours.
 */
function blame(stderr: string, file: string, owners: Map<number, LineOwner>): Blame | undefined {
  const diags: { file?: string; line: number; severity: string; message: string }[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(?:(.*?):(\d+):(\d+): )?(fatal error|error|warning|note): (.*)$/.exec(line);
    if (m) diags.push({ file: m[1], line: Number(m[2] ?? 0), severity: m[4], message: m[5] });
  }
  const out: Blame = { lines: [], objects: new Set() };
  for (let i = 0; i < diags.length; i++) {
    const d = diags[i];
    if (d.severity !== 'error' && d.severity !== 'fatal error') continue;
    const notes: LineOwner[] = [];
    for (let j = i + 1; j < diags.length && diags[j].severity === 'note'; j++) {
      const o = diags[j].file === file ? owners.get(diags[j].line) : undefined;
      if (o) notes.push(o);
    }
    const message = d.message.replace(/ \[-W[^\]]*\]$/, '');
    if (d.file === undefined) {
      const o = notes.find((n): n is Exclude<LineOwner, { kind: 'probe' }> => n.kind !== 'probe');
      if (!o) return undefined;
      out.objects.add(o.symbol);
      continue;
    }
    const owner = d.file === file ? owners.get(d.line) : notes[0];
    if (!owner) return undefined;
    out.lines.push({ owner, message });
  }
  return out.lines.length || out.objects.size ? out : undefined;
}
