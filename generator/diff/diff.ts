/**
 * The diff stage: compares two versions of a header, ABI by ABI, after layout.
 * Every record, field, constant, ioctl and flag is compared on each selected ABI
 * (see compare.ts for the rules); a change that reads the same on every selected
 * ABI is reported once with `abis: ['all']`, otherwise once per distinct reading
 * with the ABIs it applies to.
 *
 * Macros are compared by value, as C evaluates them on each ABI: a changed ioctl
 * number or flag value shows up here, where a binary ABI checker sees nothing.
 */
import { ABIS, type Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { parseHeaderForAbis } from '../parse/parse.js';
import { compareSnapshots, type AbiChange } from './compare.js';
import { KIND_ORDER, type Change, type HeaderDiff } from './model.js';
import { snapshot } from './snapshot.js';

/** Options of {@link diffHeaders}. */
export interface DiffOptions {
  /** The ABIs to compare on (default: all of the table). */
  readonly abis?: readonly Abi[];
}

/** Options of {@link diffHeaderFiles}. */
export interface DiffFilesOptions extends DiffOptions {
  /** Extra directories for `#include <...>`, for both headers. */
  readonly includeDirs?: readonly string[];
}

/** Compares two parsed headers on every selected ABI. */
export function diffHeaders(oldIr: HeaderIR | ReadonlyMap<string, HeaderIR>, newIr: HeaderIR | ReadonlyMap<string, HeaderIR>, options: DiffOptions = {}): HeaderDiff {
  const abis = options.abis && options.abis.length > 0 ? [...options.abis] : [...ABIS];
  abis.sort((a, b) => ABIS.indexOf(a) - ABIS.indexOf(b));
  // An ABI-dependent header has one IR per ABI (parseHeaderForAbis).
  const irFor = (x: HeaderIR | ReadonlyMap<string, HeaderIR>, abi: Abi): HeaderIR => (x instanceof Map ? x.get(abi.name)! : (x as HeaderIR));
  const perAbi = abis.map((abi) => compareSnapshots(snapshot(irFor(oldIr, abi), abi), snapshot(irFor(newIr, abi), abi)));
  return { abis: abis.map((a) => a.name), changes: collapse(abis, perAbi) };
}

/**
 * Reads, parses and compares two header files.
 * @throws HeaderError when either header cannot be read or parsed.
 */
export function diffHeaderFiles(oldPath: string, newPath: string, options: DiffFilesOptions = {}): HeaderDiff {
  const abis = options.abis && options.abis.length > 0 ? options.abis : ABIS;
  const parse = (p: string) => parseHeaderForAbis(p, abis, { includeDirs: options.includeDirs ? [...options.includeDirs] : undefined });
  return diffHeaders(parse(oldPath), parse(newPath), options);
}

/** Merges per-ABI changes: one entry per (change, reading), with its ABIs or `all`. */
function collapse(abis: readonly Abi[], perAbi: readonly AbiChange[][]): Change[] {
  interface Variant { first: AbiChange; abis: number[] }
  const variants = new Map<string, Map<string, Variant>>();
  perAbi.forEach((changes, i) => {
    for (const c of changes) {
      const key = `${c.kind}\0${c.what}\0${c.name}`;
      let byReading = variants.get(key);
      if (!byReading) variants.set(key, (byReading = new Map()));
      const reading = `${c.severity}\0${c.detail}`;
      const v = byReading.get(reading);
      if (v) v.abis.push(i);
      else byReading.set(reading, { first: c, abis: [i] });
    }
  });
  const merged: { change: Change; sort: AbiChange; firstAbi: number }[] = [];
  for (const byReading of variants.values()) {
    const all = byReading.size === 1 && [...byReading.values()][0]!.abis.length === abis.length;
    for (const v of byReading.values()) {
      const { kind, what, name, severity, detail } = v.first;
      merged.push({ change: { kind, what, name, abis: all ? ['all'] : v.abis.map((i) => abis[i]!.name), severity, detail }, sort: v.first, firstAbi: v.abis[0]! });
    }
  }
  merged.sort((a, b) => a.sort.sortGroup - b.sort.sortGroup
    || compareText(a.sort.sortName, b.sort.sortName)
    || a.sort.sortIndex - b.sort.sortIndex
    || compareText(a.change.name, b.change.name)
    || KIND_ORDER.indexOf(a.change.kind) - KIND_ORDER.indexOf(b.change.kind)
    || (a.change.severity === b.change.severity ? 0 : a.change.severity === 'breaking' ? -1 : 1)
    || a.firstAbi - b.firstAbi
    || compareText(a.change.detail, b.change.detail));
  return merged.map((m) => m.change);
}

/** Code-point order, independent of the locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counts of changes by severity. */
export function countBySeverity(diff: HeaderDiff): { compatible: number; breaking: number } {
  const breaking = diff.changes.filter((c) => c.severity === 'breaking').length;
  return { breaking, compatible: diff.changes.length - breaking };
}
