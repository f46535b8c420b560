/**
 * Compares two snapshots of one ABI and classifies every difference.
 *
 * Compatible: a new record, ioctl, flag or constant; a field appended at the end
 * of an argsz-extensible struct (first member `argsz`), or placed in space the
 * record already had (padding, a union alternative); a type re-spelt with the
 * same representation; a constant's C type or kind (macro/enumerator) changed
 * with its value kept.
 *
 * Breaking: anything removed or renamed; a field moved, resized or retyped; a
 * record whose size changed (unless argsz-extensible and grown only at the end)
 * or whose alignment changed; a changed ioctl number or argument; a changed
 * constant or flag value.
 */
import type { ChangeKind, ChangeWhat, Severity } from './model.js';
import { nameDistance } from './names.js';
import type { AbiSnapshot, FieldFacts, RecordFacts } from './snapshot.js';

/** A change on one ABI, with the keys that order it. */
export interface AbiChange {
  readonly kind: ChangeKind;
  readonly what: ChangeWhat;
  readonly name: string;
  readonly severity: Severity;
  readonly detail: string;
  /** Ordering: records and their fields by record then declaration order; the rest by name. */
  readonly sortGroup: number;
  readonly sortName: string;
  readonly sortIndex: number;
}

/** A constant in words: small values in decimal, others in hex. */
export function formatValue(v: bigint): string {
  const abs = v < 0n ? -v : v;
  if (abs < 256n) return v.toString();
  return `${v < 0n ? '-' : ''}0x${abs.toString(16)}`;
}

/** An ioctl number in words. */
function formatNumber(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/** Every difference between `o` and `n` (the same ABI), classified. */
export function compareSnapshots(o: AbiSnapshot, n: AbiSnapshot): AbiChange[] {
  return [...compareRecords(o, n), ...compareNamedValues(o, n)];
}

// ---- records and fields -------------------------------------------------------

const sameShapeAndPlace = (a: FieldFacts, b: FieldFacts) =>
  a.offset === b.offset && a.size === b.size && a.type === b.type && a.bits?.offset === b.bits?.offset && a.bits?.width === b.bits?.width;

/** The fields of two records are the same (paths, places and types). */
function sameFields(a: RecordFacts, b: RecordFacts): boolean {
  if (a.fields.size !== b.fields.size || a.size !== b.size || a.align !== b.align || a.tag !== b.tag) return false;
  return [...a.fields.values()].every((f) => {
    const g = b.fields.get(f.path);
    return g !== undefined && sameShapeAndPlace(f, g);
  });
}

/** Pairs (old, new) of names that look like renames, best first, each name used once. */
function matchRenames(removed: readonly string[], added: readonly string[], same: (o: string, a: string) => boolean): Map<string, string> {
  const pairs: { o: string; a: string; d: number }[] = [];
  for (const o of removed) {
    for (const a of added) {
      const d = nameDistance(o, a);
      if (d !== undefined && same(o, a)) pairs.push({ o, a, d });
    }
  }
  pairs.sort((x, y) => x.d - y.d || cmp(x.o, y.o) || cmp(x.a, y.a));
  const result = new Map<string, string>();
  const used = new Set<string>();
  for (const p of pairs) {
    if (result.has(p.o) || used.has(p.a)) continue;
    result.set(p.o, p.a);
    used.add(p.a);
  }
  return result;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRecords(o: AbiSnapshot, n: AbiSnapshot): AbiChange[] {
  const out: AbiChange[] = [];
  const removed = [...o.records.keys()].filter((k) => !n.records.has(k)).sort();
  const added = [...n.records.keys()].filter((k) => !o.records.has(k)).sort();
  const renames = matchRenames(removed, added, (a, b) => sameFields(o.records.get(a)!, n.records.get(b)!));
  const renamedTo = new Set(renames.values());
  const record = (r: RecordFacts, kind: ChangeKind, severity: Severity, detail: string, name = r.name) =>
    out.push({ kind, what: 'record', name, severity, detail, sortGroup: 0, sortName: name, sortIndex: -1 });

  for (const name of removed) {
    const r = o.records.get(name)!;
    const to = renames.get(name);
    if (to) record(r, 'changed', 'breaking', `renamed ${r.tag} ${name} -> ${to} (same layout): code using the old name no longer builds`);
    else record(r, 'removed', 'breaking', `${r.tag} ${name} removed`);
  }
  for (const name of added) {
    if (renamedTo.has(name)) continue;
    const r = n.records.get(name)!;
    record(r, 'added', 'compatible', `new ${r.tag}${r.extensible ? ' (argsz-extensible)' : ''}: existing code cannot depend on it`);
  }
  for (const [name, or] of o.records) {
    const nr = n.records.get(name);
    if (nr) out.push(...compareRecord(or, nr));
  }
  return out;
}

/** A record present in both: its own size/alignment/tag, and each of its fields. */
function compareRecord(or: RecordFacts, nr: RecordFacts): AbiChange[] {
  const out: AbiChange[] = [];
  const notes: string[] = [];
  let breaking = false;
  if (or.tag !== nr.tag) {
    notes.push(`${or.tag} -> ${nr.tag}`);
    breaking = true;
  }
  if (or.size !== nr.size) {
    const keptPlaces = [...or.fields.values()].every((f) => {
      const g = nr.fields.get(f.path);
      return g !== undefined && g.offset === f.offset && g.size === f.size;
    });
    if (nr.size > or.size && or.extensible && nr.extensible && keptPlaces) {
      notes.push(`size ${or.size} -> ${nr.size}: grew at the end of an argsz-extensible struct (first member argsz), old callers pass the old argsz`);
    } else {
      const why = !or.extensible || !nr.extensible ? `a fixed ${or.tag} (no leading argsz) changed size`
        : nr.size < or.size ? 'an argsz-extensible struct shrank'
          : 'fields before the end moved or changed size';
      notes.push(`size ${or.size} -> ${nr.size}: ${why}`);
      breaking = true;
    }
  }
  if (or.align !== nr.align) {
    notes.push(`alignment ${or.align} -> ${nr.align}: changes where it may sit in memory and inside other records`);
    breaking = true;
  }
  if (notes.length > 0) {
    out.push({ kind: 'changed', what: 'record', name: or.name, severity: breaking ? 'breaking' : 'compatible', detail: notes.join('; '), sortGroup: 0, sortName: or.name, sortIndex: -1 });
  }

  const field = (kind: ChangeKind, path: string, order: number, severity: Severity, detail: string) =>
    out.push({ kind, what: 'field', name: `${or.name}.${path}`, severity, detail, sortGroup: 0, sortName: or.name, sortIndex: order });
  const removed = [...or.fields.keys()].filter((p) => !nr.fields.has(p));
  const added = [...nr.fields.keys()].filter((p) => !or.fields.has(p));
  // A field renamed in place: same offset, size and type.
  const renames = new Map<string, string>();
  for (const p of removed) {
    const f = or.fields.get(p)!;
    const to = added.find((a) => ![...renames.values()].includes(a) && sameShapeAndPlace(f, nr.fields.get(a)!) && sameParent(p, a));
    if (to) renames.set(p, to);
  }
  const renamedTo = new Set(renames.values());

  for (const p of removed) {
    const f = or.fields.get(p)!;
    const to = renames.get(p);
    if (to) field('changed', p, nr.fields.get(to)!.order, 'breaking', `renamed ${or.name}.${p} -> ${nr.name}.${to} (same place and type): code using the old name no longer builds`);
    else field('removed', p, f.order, 'breaking', `removed (was ${f.type} at offset ${f.offset})`);
  }
  for (const p of added) {
    if (renamedTo.has(p)) continue;
    const f = nr.fields.get(p)!;
    const at = `${f.type} at offset ${f.offset} (${f.size} bytes)`;
    if (nr.extensible && or.extensible && f.offset >= or.size) {
      field('added', p, f.order, 'compatible', `${at}, appended to an argsz-extensible struct`);
    } else if (or.size === nr.size && or.align === nr.align && or.tag === nr.tag) {
      field('added', p, f.order, 'compatible', `${at}, in space the ${nr.tag} already had (padding or a union alternative): its layout is unchanged`);
    } else if (nr.extensible) {
      field('added', p, f.order, 'breaking', `${at}, inside the old size (${or.size}) of an argsz-extensible struct, which changed layout`);
    } else {
      field('added', p, f.order, 'breaking', `${at}, to a fixed ${nr.tag} (no leading argsz) whose layout changed`);
    }
  }
  for (const [p, of] of or.fields) {
    const nf = nr.fields.get(p);
    if (!nf) continue;
    const c = compareField(of, nf);
    if (c) field('changed', p, nf.order, c.severity, c.detail);
  }
  return out;
}

/** `a.b.x` -> `a.b.y`: renames only within one parent path. */
function sameParent(a: string, b: string): boolean {
  return a.replace(/[^.]*$/, '') === b.replace(/[^.]*$/, '');
}

function compareField(of: FieldFacts, nf: FieldFacts): { severity: Severity; detail: string } | undefined {
  const notes: string[] = [];
  let breaking = false;
  if (of.type !== nf.type) {
    const sameRep = of.shape === nf.shape && of.size === nf.size && of.offset === nf.offset && of.align === nf.align;
    notes.push(sameRep ? `type ${of.type} -> ${nf.type} (same representation here)` : `type ${of.type} -> ${nf.type}`);
    if (of.shape !== nf.shape) breaking = true;
  }
  if (of.offset !== nf.offset) {
    notes.push(`moved from offset ${of.offset} to ${nf.offset}`);
    breaking = true;
  }
  if (of.size !== nf.size) {
    notes.push(`size ${of.size} -> ${nf.size}`);
    breaking = true;
  }
  if (of.align !== nf.align) {
    notes.push(`alignment ${of.align} -> ${nf.align}`);
    breaking = true;
  }
  if (of.bits?.offset !== nf.bits?.offset || of.bits?.width !== nf.bits?.width) {
    const bits = (f: FieldFacts) => (f.bits ? `bits ${f.bits.offset}..${f.bits.offset + f.bits.width - 1}` : 'not a bit-field');
    notes.push(`${bits(of)} -> ${bits(nf)}`);
    breaking = true;
  }
  if (notes.length === 0) return undefined;
  return { severity: breaking ? 'breaking' : 'compatible', detail: notes.join('; ') };
}

// ---- constants, ioctls, flags -------------------------------------------------

/** A constant with what its category adds. */
interface Named {
  readonly value: bigint;
  readonly type: string;
  readonly source: 'macro' | 'enum';
  /** ioctls: the argument (undefined when the name is no ioctl on this side). */
  readonly arg?: string;
  readonly argUnknown?: boolean;
  /** flags: the field it belongs to. */
  readonly group?: string;
}

const GROUP_OF: Record<'ioctl' | 'flag' | 'constant', number> = { ioctl: 1, flag: 2, constant: 3 };

function compareNamedValues(o: AbiSnapshot, n: AbiSnapshot): AbiChange[] {
  const category = (name: string): 'ioctl' | 'flag' | 'constant' =>
    o.ioctls.has(name) || n.ioctls.has(name) ? 'ioctl' : o.flags.has(name) || n.flags.has(name) ? 'flag' : 'constant';
  const side = (s: AbiSnapshot, what: string) => {
    const m = new Map<string, Named>();
    for (const c of s.constants.values()) {
      if (category(c.name) !== what) continue;
      const io = s.ioctls.get(c.name);
      m.set(c.name, { value: c.value, type: c.type, source: c.source, arg: io?.arg, argUnknown: io?.argUnknown, group: s.flags.get(c.name)?.group });
    }
    return m;
  };
  const out: AbiChange[] = [];
  for (const what of ['ioctl', 'flag', 'constant'] as const) out.push(...compareCategory(what, side(o, what), side(n, what)));
  return out;
}

function compareCategory(what: 'ioctl' | 'flag' | 'constant', o: Map<string, Named>, n: Map<string, Named>): AbiChange[] {
  const out: AbiChange[] = [];
  const push = (kind: ChangeKind, name: string, severity: Severity, detail: string) =>
    out.push({ kind, what, name, severity, detail, sortGroup: GROUP_OF[what], sortName: name, sortIndex: 0 });
  const show = what === 'ioctl' ? formatNumber : formatValue;
  const valueWord = what === 'ioctl' ? 'number' : 'value';

  // Renames: an old name gone (or now meaning another value) and a new name with the old value.
  const gone = [...o.keys()].filter((k) => !n.has(k) || n.get(k)!.value !== o.get(k)!.value).sort();
  const fresh = [...n.keys()].filter((k) => !o.has(k)).sort();
  const renames = matchRenames(gone, fresh, (a, b) => o.get(a)!.value === n.get(b)!.value);
  const renamedTo = new Set(renames.values());

  for (const [name, ov] of o) {
    const nv = n.get(name);
    const to = renames.get(name);
    if (to) {
      let detail = `renamed ${name} -> ${to} (${valueWord} ${show(ov.value)}): code using the old name no longer builds`;
      if (nv) detail += `, and ${name} now means ${show(nv.value)}${nv.source !== ov.source ? ` (${kindWord(nv.source)})` : ''}, so code using it builds with another value`;
      push('changed', name, 'breaking', detail);
      continue;
    }
    if (!nv) {
      // An ioctl's number differs between ABIs: leave it out so that the removal reads the same on all.
      push('removed', name, 'breaking', what === 'ioctl' ? `removed (argument ${ov.arg ?? 'unknown'})` : `removed (was ${show(ov.value)})`);
      continue;
    }
    const c = compareValues(what, ov, nv, show, valueWord);
    if (c) push('changed', name, c.severity, c.detail);
  }
  for (const [name, nv] of n) {
    if (o.has(name) || renamedTo.has(name)) continue;
    if (what === 'ioctl') push('added', name, 'compatible', `new ioctl, argument ${nv.arg ?? 'unknown'}`);
    else if (what === 'flag') push('added', name, 'compatible', `new flag of ${nv.group} = ${formatValue(nv.value)}`);
    else push('added', name, 'compatible', `new ${kindWord(nv.source)} = ${formatValue(nv.value)}`);
  }
  return out;
}

function kindWord(source: 'macro' | 'enum'): string {
  return source === 'enum' ? 'enumerator' : 'macro';
}

function compareValues(what: 'ioctl' | 'flag' | 'constant', ov: Named, nv: Named, show: (v: bigint) => string, valueWord: string): { severity: Severity; detail: string } | undefined {
  const notes: string[] = [];
  let breaking = false;
  if (ov.value !== nv.value) {
    const why = what === 'ioctl' ? 'old binaries issue a request the kernel no longer knows' : 'old binaries pass the old value';
    notes.push(`${valueWord} ${show(ov.value)} -> ${show(nv.value)}: ${why}`);
    breaking = true;
  } else if (ov.type !== nv.type) {
    notes.push(`C type ${ov.type} -> ${nv.type} (same value)`);
  }
  if (ov.source !== nv.source) {
    notes.push(nv.source === 'enum'
      ? `now an enumerator, no longer a macro${ov.value === nv.value ? ' (same value)' : ''}: #ifdef no longer sees it`
      : `now a macro, no longer an enumerator${ov.value === nv.value ? ' (same value)' : ''}`);
  }
  if (what === 'ioctl' && ov.arg !== nv.arg) {
    if (ov.arg === undefined || nv.arg === undefined) {
      notes.push(ov.arg === undefined ? 'now an ioctl' : 'no longer an ioctl');
    } else if (ov.argUnknown && !nv.argUnknown) {
      notes.push(`argument ${ov.arg} -> ${nv.arg} (now stated by the header)`);
    } else if (nv.argUnknown) {
      notes.push(`argument ${ov.arg} -> ${nv.arg} (the header no longer states it)`);
    } else {
      notes.push(`argument ${ov.arg} -> ${nv.arg}`);
      breaking = true;
    }
  }
  if (what === 'flag' && ov.group !== nv.group && ov.value === nv.value) {
    notes.push(ov.group && nv.group ? `moved from ${ov.group} to ${nv.group} (same value)` : nv.group ? `now a flag of ${nv.group}` : `no longer listed with ${ov.group}`);
  }
  if (notes.length === 0) return undefined;
  return { severity: breaking ? 'breaking' : 'compatible', detail: notes.join('; ') };
}
