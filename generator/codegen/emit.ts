/**
 * Emit: the TypeScript bindings of one header from its IR, per-ABI layouts and
 * analysis, as files in memory (the pipeline driver, generator/pipeline/,
 * parses and writes). Merged across ABIs as Go's x/sys mkmerge does, record by
 * record: a codec or constant whose text is the same on every ABI is emitted
 * once (`codecs.ts`, `constants.ts`); what differs goes to one module per group
 * of ABIs with identical differences (`codecs/<abi>.ts`, `constants/<abi>.ts`,
 * named after the group's first ABI). Codecs do not spell the byte order: they
 * are emitted into a factory taking `le`, so a little- and a big-endian ABI
 * with the same layout share their code. `abi/<abi>.ts` puts an ABI together;
 * `index.ts` imports the running process's ABI module only.
 */
import path from 'node:path';
import type { Abi } from '../abi/abis.js';
import type { HeaderIR, RecordDecl } from '../ir/types.js';
import { layoutRulesOf, type AbiLayout, type ConstantValue } from '../layout/layout.js';
import { identifiersOf, type Expr } from '../expr/ast.js';
import { commentText } from '../source/lexer.js';
import type { HeaderAnalysis } from '../analysis/conventions.js';
import { formatProvenance, type Provenance } from '../provenance.js';
import { HeaderError } from '../errors.js';
import { MAX_CODEC_BYTES, ourLimit } from '../limits.js';
import { CODEGEN_RUNTIME, CodecWriter, Shapes, TYPES, type CodecUnit } from './codecs.js';
import { isBindable, propertyKey, typeName } from './names.js';
import { docText, Imports, ModuleWriter, type Chunk, type ModuleRef } from './printer.js';
import { renderFile, type FileKind } from './templates.js';

/** Generated files: path relative to the bindings directory -> contents. */
export type FileSet = Map<string, string>;

/** What emit needs: the analysed header on every ABI. */
export interface EmitInput {
  readonly ir: HeaderIR;
  /** One layout per ABI, in the ABI table's order. */
  readonly layouts: readonly AbiLayout[];
  readonly analysis: HeaderAnalysis;
  readonly provenance: Provenance;
  /** Copy the header's comments into TSDoc. */
  readonly withComments?: boolean;
}

const CONSTANTS = 'constants';
const CODECS = 'codecs';
/** Import order in every module. */
const ORDER = [CODEGEN_RUNTIME, TYPES, CONSTANTS, CODECS];

const tsValue = (v: bigint) => (v < 2n ** 53n && v > -(2n ** 53n) ? { ts: 'number', text: v.toString() } : { ts: 'bigint', text: `${v}n` });
const hexOf = (v: bigint) => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);
const indent = (text: string) => text.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');

/**
 * Which ABIs must come out alike: the IR they were parsed into (one object when the header does not
 * depend on the ABI) and what a layout reads of the ABI table (byte order is not written into codecs).
 */
function layoutRulesKey(layout: AbiLayout, layouts: readonly AbiLayout[]): string {
  const irIndex = [...new Set(layouts.map((l) => l.ir))].indexOf(layout.ir);
  return `${irIndex} ${layoutRulesOf(layout.abi)}`;
}

/**
 * The constants of each group of alike ABIs, by name. Lists usually name the same constants in the same
 * order on every ABI (only values differ): those are looked up through one index of the first list's names
 * instead of a map each (a header may define tens of thousands of constants). Answers as `new Map(list)` would.
 */
class ConstantLookup {
  /** The distinct lists, the first ABI's first. */
  readonly lists: readonly ConstantValue[][];
  private readonly index: Map<string, number>;
  private readonly maps = new Map<ConstantValue[], Map<string, ConstantValue>>();

  constructor(perAbi: readonly ConstantValue[][]) {
    this.lists = [...new Set(perAbi)];
    const first = this.lists[0]!;
    this.index = new Map(first.map((c, k) => [c.name, k]));
    for (const l of this.lists.slice(1)) {
      const aligned = l.length === first.length && l.every((c, k) => c.name === first[k]!.name);
      if (!aligned) this.maps.set(l, new Map(l.map((c) => [c.name, c])));
    }
  }

  /** Whether `list` names the first list's constants in the same order. */
  isAligned(list: ConstantValue[]): boolean {
    return !this.maps.has(list);
  }

  /** The constant `name` of `list`. */
  get(list: ConstantValue[], name: string): ConstantValue | undefined {
    const m = this.maps.get(list);
    if (m) return m.get(name);
    const k = this.index.get(name);
    return k === undefined ? undefined : list[k];
  }
}

/** Groups ABIs by identical text, keeping table order; each group is named after its first ABI. */
function groupByText<V>(entries: { abi: Abi; text: string; value: V }[]): { name: string; abis: Abi[]; text: string; value: V }[] {
  const groups: { name: string; abis: Abi[]; text: string; value: V }[] = [];
  for (const e of entries) {
    const g = groups.find((x) => x.text === e.text);
    if (g) g.abis.push(e.abi);
    else groups.push({ name: e.abi.name, abis: [e.abi], text: e.text, value: e.value });
  }
  return groups;
}

/** The bindings of one header, in memory. */
export function emitBindings(input: EmitInput): FileSet {
  const { ir, layouts, analysis } = input;
  const abis = layouts.map((l) => l.abi);
  const first = formatProvenance(input.provenance);
  const header = input.provenance.header;
  const files: FileSet = new Map();
  const resolver = (file: string) => (ref: ModuleRef) => {
    const dir = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
    if (ref === CODEGEN_RUNTIME) return ref;
    const rel = path.posix.relative(dir, ref);
    return `${rel.startsWith('.') ? rel : `./${rel}`}.js`;
  };
  const put = (file: string, kind: FileKind, m: ModuleWriter, extra: Record<string, string> = {}) =>
    files.set(file, renderFile(kind, { provenance: first, header, ...extra, ...m.print(resolver(file), ORDER) }));
  const originOf = (loc: { file: string; line: number }) => `${path.basename(loc.file)}:${loc.line}`;

  // ---- types.ts: the same interfaces on every ABI ----
  const shapes = new Shapes(layouts);
  const commentBefore = (line: number) => {
    if (!input.withComments) return undefined;
    const c = ir.comments.find((x) => x.endLine === line - 1 || x.endLine === line - 2);
    return c ? commentText(c).split('\n').map((l) => ` * ${l.replace(/\*\//g, '*\\/')}`).join('\n').trimEnd() : undefined;
  };
  const types = new ModuleWriter();
  for (const i of shapes.interfaces.values()) {
    const comment = commentBefore(i.decl.loc.line);
    const props = i.props.map((p) => `  /** \`${docText(p.c)}\` */\n  ${propertyKey(p.name)}${p.optional ? '?' : ''}: ${p.ts};`);
    types.add(`/** ${i.decl.tag} ${i.decl.name}, declared at ${originOf(i.decl.loc)}.${comment ? `\n *\n${comment}` : ''} */\nexport interface ${i.name} {\n${props.join('\n')}\n}`);
  }
  const flagTypeName = (g: HeaderAnalysis['flags'][number]) => `${typeName(g.record.name!)}${typeName(g.field)}Name`;
  for (const g of analysis.flags) {
    types.add(`/** Names of the flags of \`${g.record.tag} ${g.record.name}.${g.field}\`. */\nexport type ${flagTypeName(g)} = ${g.bits.map((b) => `'${b}'`).join(' | ')};`);
  }
  put('types.ts', 'types', types);

  // ---- codecs: merged record by record ----
  // ABIs that share the IR and every layout rule of the table lay records out alike: write their codecs once.
  // Across groups, a record whose layout reads alike (CodecWriter.fingerprint) is written once too.
  type Written = { unit: CodecUnit; w: CodecWriter };
  const codecMemo = new Map<string, { units: Written[]; keys: string[] }>();
  const unitMemo = new Map<string, Written>();
  const interned = new Map<string, number>();
  const irsByRecords = [...new Set(layouts.map((l) => l.ir.records))];
  let codecBytes = 0;
  const write = (w: CodecWriter, r: RecordDecl): Written => {
    const unit = w.codec(r);
    codecBytes += unit.text.length;
    if (codecBytes > MAX_CODEC_BYTES) throw new HeaderError(r.loc, ourLimit(`the code of the codecs of ${header} (at ${r.tag} ${r.name})`, `${MAX_CODEC_BYTES} bytes`));
    return { unit, w };
  };
  const perAbi = layouts.map((layout) => {
    const rules = layoutRulesKey(layout, layouts);
    let written = codecMemo.get(rules);
    if (!written) {
      const w = new CodecWriter(layout, layouts, shapes);
      const units = analysis.records.map((r) => {
        const fp = w.fingerprint(r.id, interned);
        if (fp === undefined) return write(w, r);
        // The same record of the same parse (ABI-dependent headers may be parsed into several IRs).
        const key = `${irsByRecords.indexOf(layout.ir.records)} ${r.id} ${fp}`;
        let hit = unitMemo.get(key);
        if (!hit) unitMemo.set(key, (hit = write(w, r)));
        return hit;
      });
      // What a unit is, for the merge: its code and the code of the helpers it calls.
      const keys = units.map(({ unit: u, w: uw }) => [u.text, ...[...u.helpers].sort((a, b) => a - b).map((h) => uw.helperChunk(h).text)].join('\n'));
      codecMemo.set(rules, (written = { units, keys }));
    }
    return { abi: layout.abi, ...written };
  });
  const shared = analysis.records.map((_, k) => perAbi.every((p) => p.keys[k] === perAbi[0]!.keys[k]));
  const factory = (units: Written[], fn: string, doc: string): Chunk => {
    // A helper's code is the same from every writer that wrote it (its record's fingerprint is part of the callers').
    const helperChunks = new Map<number, Chunk>();
    for (const { unit, w } of units) for (const h of unit.helpers) if (!helperChunks.has(h)) helperChunks.set(h, w.helperChunk(h));
    const helperIds = [...helperChunks.keys()].sort((a, b) => a - b);
    const chunks: Chunk[] = [...units.map((u) => u.unit), ...helperIds.map((h) => helperChunks.get(h)!)];
    const imports = new Imports();
    chunks.forEach((c) => imports.merge(c.imports));
    const body = chunks.map((c) => indent(c.text)).join('\n\n');
    return {
      text: `${doc}\nexport function ${fn}(le: boolean) {\n${body}\n\n  return { ${units.map((u) => u.unit.record).join(', ')} };\n}`,
      imports,
    };
  };
  const sharedUnits = perAbi[0]!.units.filter((_, k) => shared[k]);
  put('codecs.ts', 'codecs', new ModuleWriter().add(
    factory(sharedUnits, 'sharedCodecs', '/** The codecs laid out alike on every ABI, for the byte order `le`. */')));
  const codecGroups = groupByText(perAbi.map((p) => ({ abi: p.abi, text: p.keys.filter((_, k) => !shared[k]).join('\n'), value: p })))
    .filter((g) => g.text !== '');
  for (const g of codecGroups) {
    const units = g.value.units.filter((_, k) => !shared[k]);
    const list = g.abis.map((a) => a.name).join(', ');
    put(`codecs/${g.name}.ts`, 'codecs-group', new ModuleWriter().add(
      factory(units, 'abiCodecs', `/** The codecs of ${list} that other ABIs lay out differently, for the byte order \`le\`. */`)), { abiList: list });
  }

  // ---- constants: merged constant by constant ----
  const macroBody = new Map(ir.macros.map((m) => [m.name, m.body]));
  // One list per group of alike ABIs (their layouts share one constants() answer); work below is per list, not per ABI.
  const constantMemo = new Map<object, ConstantValue[]>();
  const constantLists = layouts.map((l) => {
    const all = l.constants();
    let list = constantMemo.get(all);
    if (!list) constantMemo.set(all, (list = all.values.filter((c) => isBindable(c.name))));
    return list;
  });
  const constSource = (c: ConstantValue) => (c.source === 'macro' ? `\`${docText(macroBody.get(c.name) ?? '')}\`` : 'enumerator');
  const constDoc = (c: ConstantValue) => `${constSource(c)} = ${hexOf(c.value)}, ${c.type.name}; ${originOf(c.loc)}.`;
  const constText = (c: ConstantValue, literal: boolean) => {
    const v = tsValue(c.value);
    return `/** ${constDoc(c)} */\nexport const ${c.name}${literal ? '' : `: ${v.ts}`} = ${v.text};`;
  };
  // Whether constText(o, true) === constText(c, true) for two constants of one name, without printing them.
  const sameText = (o: ConstantValue, c: ConstantValue) => o === c || (o.value === c.value && o.source === c.source && o.type.name === c.type.name
    && o.loc.line === c.loc.line && (o.loc.file === c.loc.file || path.basename(o.loc.file) === path.basename(c.loc.file)));
  const firstList = constantLists[0]!;
  const lookup = new ConstantLookup(constantLists);
  const distinctLists = lookup.lists;
  const otherLists = distinctLists.slice(1);
  const isShared = firstList.map((c) => otherLists.every((l) => {
    const o = lookup.get(l, c.name);
    return o !== undefined && sameText(o, c);
  }));
  const sharedConsts = new Set(firstList.filter((_, k) => isShared[k]).map((c) => c.name));
  const constants = new ModuleWriter();
  firstList.forEach((c, k) => { if (isShared[k]) constants.add(constText(c, true)); });
  put('constants.ts', 'constants', constants);
  const groupTexts = new Map(distinctLists.map((l) => {
    // An aligned list's shared constants are where the first list's are (no lookup by name).
    const list = sharedConsts.size === 0 ? l : lookup.isAligned(l) ? l.filter((_, k) => !isShared[k]) : l.filter((c) => !sharedConsts.has(c.name));
    return [l, { text: list.map((c) => constText(c, false)).join('\n\n'), list }];
  }));
  const constGroups = groupByText(layouts.map((l, i) => {
    const g = groupTexts.get(constantLists[i]!)!;
    return { abi: l.abi, text: g.text, value: g.list };
  }))
    .filter((g) => g.text !== '');
  for (const g of constGroups) {
    put(`constants/${g.name}.ts`, 'constants-group', new ModuleWriter().add(g.text), { abiList: g.abis.map((a) => a.name).join(', ') });
  }

  // ---- abi/<abi>.ts ----
  for (const [i, abi] of abis.entries()) {
    const m = new ModuleWriter();
    const im = new Imports();
    const cg = codecGroups.find((g) => g.abis.includes(abi));
    const kg = constGroups.find((g) => g.abis.includes(abi));
    const lines = [`export * from '${resolver(`abi/${abi.name}.ts`)(CONSTANTS)}';`];
    if (kg) lines.push(`export * from '${resolver(`abi/${abi.name}.ts`)(`constants/${kg.name}`)}';`);
    m.add(lines.join('\n'));
    m.add(`/** The ABI of this module. */\nexport const ABI = '${abi.name}';`);
    const le = abi.endian === 'little' ? 'true' : 'false';
    if (sharedUnits.length) {
      im.value(CODECS, 'sharedCodecs');
      m.add(`export const { ${sharedUnits.map((u) => u.unit.record).join(', ')} } = sharedCodecs(${le});`);
    }
    if (cg) {
      im.value(`codecs/${cg.name}`, 'abiCodecs');
      m.add(`export const { ${perAbi[i]!.units.filter((_, k) => !shared[k]).map((u) => u.unit.record).join(', ')} } = abiCodecs(${le});`);
    }
    put(`abi/${abi.name}.ts`, 'abi', m.uses(im), { abi: abi.name });
  }

  const differingDoc = (c: ConstantValue, values: string) => `${constSource(c)} on the running ABI: ${values}; ${originOf(c.loc)}.`;
  files.set('index.ts', emitIndex(input, shapes, sharedConsts, constantLists, lookup, differingDoc, first, resolver('index.ts')));
  return files;
}

/** index.ts: the running ABI's bindings, ioctl descriptors, flag sets, capability registry; `byAbi` for every ABI. */
function emitIndex(
  input: EmitInput, shapes: Shapes, sharedConsts: ReadonlySet<string>, constantLists: ConstantValue[][], lookup: ConstantLookup,
  constDoc: (c: ConstantValue, values: string) => string, first: string, resolve: (ref: ModuleRef) => string,
): string {
  const { layouts, analysis } = input;
  const header = input.provenance.header;
  const abis = layouts.map((l) => l.abi);
  const im = new Imports();
  const out = new ModuleWriter();
  // Every constant defined on every ABI is a binding of the index: imported when the same everywhere, else the running ABI's.
  // Maps and sets, not list searches: a header may define tens of thousands of constants.
  const otherLists = lookup.lists.slice(1);
  const everywhereList = constantLists[0]!.filter((c) => otherLists.every((l) => lookup.get(l, c.name) !== undefined)).map((c) => c.name);
  const everywhere = new Set(everywhereList);
  const tsTypes = new Map(everywhereList.map((n) => [n, sharedConsts.has(n)
    ? tsValue(lookup.get(constantLists[0]!, n)!.value).ts
    : [...new Set(lookup.lists.map((l) => tsValue(lookup.get(l, n)!.value).ts))].sort().join(' | ')]));
  const ref = (n: string) => (sharedConsts.has(n) ? im.value(CONSTANTS, n) : n);
  const isNumber = (n: string) => tsTypes.get(n) === 'number';

  out.add(`export type * from '${resolve(TYPES)}';\nexport * from '${resolve(CONSTANTS)}';`);
  out.add([
    '/** Every ABI\'s module (its constants and codecs), by ABI name, imported on first call. */',
    'export const byAbi = {',
    ...abis.map((a) => `  ${a.name}: () => import('${resolve(`abi/${a.name}`)}'),`),
    '} as const;',
    '',
    '/** Names of the ABIs these bindings cover. */',
    'export type AbiName = keyof typeof byAbi;',
    '',
    '/** The module of one ABI: its constants and codecs. */',
    'export type AbiModule = Awaited<ReturnType<(typeof byAbi)[AbiName]>>;',
    '',
    '/** Node.js `process.arch` and byte order of each ABI Node.js runs on. */',
    'const NODE_ABIS: Record<string, AbiName> = {',
    ...abis.filter((a) => a.node).map((a) => `  '${a.node!.arch}/${a.node!.endian}': '${a.name}',`),
    '};',
    '',
    '/** The running process\'s ABI (throws on an ABI these bindings do not cover). */',
    `export const ABI: AbiName = ${im.value(CODEGEN_RUNTIME, 'selectAbi')}(NODE_ABIS, '${header}');`,
    'const current: AbiModule = await byAbi[ABI]();',
  ].join('\n'));

  // Constants that differ between ABIs: the running ABI's, with every ABI's value in the doc.
  for (const n of everywhereList) {
    if (sharedConsts.has(n)) continue;
    const groups = new Map<string, string[]>();
    constantLists.forEach((l, i) => {
      const c = lookup.get(l, n)!;
      const k = hexOf(c.value);
      groups.set(k, [...(groups.get(k) ?? []), abis[i]!.name]);
    });
    const c = lookup.get(constantLists[0]!, n)!;
    const values = [...groups].map(([v, a]) => `${v} on ${a.join(', ')}`).join('; ');
    out.add(`/** ${constDoc(c, values)} */\nexport const ${n}: ${tsTypes.get(n)} = current.${n};`);
  }

  // Codecs.
  for (const r of analysis.records) {
    out.add(`/** Codec of \`${r.tag} ${r.name}\` on the running ABI. */\nexport const ${r.name}: ${codecType(input, shapes, r, im)} = current.${r.name};`);
  }

  // Flag sets.
  const flagSet = (g: HeaderAnalysis['flags'][number]) => (g.field === 'flags' ? `${g.record.name}_flags` : `${g.record.name}_${g.field}_flags`);
  for (const g of analysis.flags) {
    const name = flagSet(g);
    const bits = g.bits.filter((b) => everywhere.has(b) && isNumber(b));
    const masks = g.masks.filter((b) => everywhere.has(b) && isNumber(b));
    if (bits.length === 0 || everywhere.has(name)) continue;
    const field = `${g.record.tag} ${g.record.name}.${g.field}`;
    const names = im.type(TYPES, `${typeName(g.record.name!)}${typeName(g.field)}Name`);
    out.add([
      `/** The flags of \`${field}\`. */`,
      `export const ${name} = ${im.value(CODEGEN_RUNTIME, 'flagSet')}<${names}>('${field}', {`,
      ...bits.map((b) => `  ${ref(b)},`),
      '}, {',
      ...masks.map((b) => `  ${ref(b)},`),
      '});',
    ].join('\n'));
  }

  // Function-like macros over constants that are numbers on every ABI (emitted as 32-bit int arithmetic).
  for (const f of analysis.functions) {
    const params = f.macro.params!;
    if (!isBindable(f.macro.name) || everywhere.has(f.macro.name) || ![...new Set(params)].every(isBindable)) continue;
    const ids = [...identifiersOf(f.expr)].filter((i) => !params.includes(i));
    if (!ids.every((i) => !tsTypes.has(i) || isNumber(i))) continue;
    ids.filter((i) => sharedConsts.has(i)).forEach((i) => im.value(CONSTANTS, i));
    out.add(`/** \`${f.macro.name}(${params.join(', ')})\`, ${path.basename(f.macro.loc.file)}:${f.macro.loc.line}: C's macro as a function over 32-bit ints (comparisons give 0 or 1). */\n`
      + `export function ${f.macro.name}(${params.map((p) => `${p}: number`).join(', ')}): number {\n  return ${exprToTs(f.expr)};\n}`);
  }

  // ioctls.
  const own = new Set(analysis.records.map((r) => r.name!));
  const ioctls = analysis.ioctls.filter((s) => everywhere.has(s.name)).map((s) => ({
    ...s,
    arg: s.arg.kind === 'struct' && !own.has(s.arg.record) ? { kind: 'unknown' as const, reason: `struct ${s.arg.record} is not defined by this header` } : s.arg,
  }));
  const literal = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : `{ ${Object.entries(v as object).map(([k, x]) => `${k}: ${literal(x)}`).join(', ')} }`);
  out.add([
    `/** The ioctls of ${header}: argument and fd kind as the header documents them, numbers per ABI. */`,
    `export const IOCTL_SPECS: readonly ${im.type(CODEGEN_RUNTIME, 'IoctlSpec')}[] = [`,
    ...ioctls.map((s) => `  ${literal({ name: s.name, fd: s.fd, arg: s.arg })},`),
    '];',
  ].join('\n'));
  out.add([`/** Names of the ioctls of ${header}. */`, 'export type IoctlName =', ...(ioctls.length ? ioctls.map((s) => `  | '${s.name}'`) : ['  never'])].join('\n') + ';');
  const descriptor = im.type(CODEGEN_RUNTIME, 'IoctlDescriptor');
  out.add([
    `/** The ioctl descriptors of ${header}, each typed with its argument: a struct ioctl's codec gives \`ioctl()\` its value and result types. */`,
    'export interface Ioctls {',
    ...ioctls.flatMap((s) => {
      const what = s.arg.kind === 'struct' ? `takes \`${s.arg.record}\` (${s.arg.direction})` : s.arg.kind === 'none' ? 'takes no argument' : s.arg.kind === 'scalar' ? `takes a \`${s.arg.cType}\`` : s.arg.kind === 'string' ? 'takes a string' : `argument unknown: ${s.arg.reason}`;
      const type = s.arg.kind === 'struct'
        ? `${im.type(CODEGEN_RUNTIME, 'StructIoctl')}<${im.type(TYPES, shapes.interfaceOf(analysis.records.find((r) => r.name === (s.arg as { record: string }).record)!.id))}>`
        : descriptor;
      return [`  /** \`${s.name}\` (${path.basename(input.ir.file)}:${s.line}), on a ${s.fd} fd: ${docText(what)}. */`, `  readonly ${s.name}: ${type};`];
    }),
    '}',
  ].join('\n'));
  out.add(`/** The ioctl descriptors on the running ABI, by name. */\nexport const ioctls = ${im.value(CODEGEN_RUNTIME, 'bindIoctls')}(IOCTL_SPECS, current) as unknown as Readonly<Ioctls>;`);

  // Capabilities.
  const caps = analysis.capabilities.filter((c) => everywhere.has(c.id) && isNumber(c.id));
  out.add([
    '/** Capability ids of each info struct, with the codec of each capability (undefined: a bare header). */',
    `export const CAPABILITIES: readonly { info: string; id: string; idValue: number; codec?: ${im.type(CODEGEN_RUNTIME, 'Codec')}<unknown> }[] = [`,
    ...caps.map((c) => `  { info: '${c.info}', id: '${c.id}', idValue: ${ref(c.id)}${c.record ? `, codec: ${c.record} as Codec<unknown>` : ''} },`),
    '];',
  ].join('\n'));
  return renderFile('index', { provenance: first, header, ...out.uses(im).print(resolve, ORDER) });
}

/** `Codec<X>` or `FlexCodec<X, E>` for a record. */
function codecType(input: EmitInput, shapes: Shapes, r: RecordDecl, im: Imports): string {
  const layout = input.layouts[0]!;
  const T = im.type(TYPES, shapes.interfaceOf(r.id));
  const last = r.fields![r.fields!.length - 1];
  if (last) {
    const t = layout.resolve(last.type, last.loc);
    if (t.kind === 'array' && t.length === null && last.name) {
      return `${im.type(CODEGEN_RUNTIME, 'FlexCodec')}<${T}, ${shapes.tsType(t, last.loc, (n) => im.type(TYPES, n))}>`;
    }
  }
  return `${im.type(CODEGEN_RUNTIME, 'Codec')}<${T}>`;
}

/** TypeScript for a C integer expression with 32-bit int semantics (comparisons give 0 or 1). */
export function exprToTs(e: Expr): string {
  switch (e.k) {
    case 'int': return e.value.toString();
    case 'char': return String(e.value);
    case 'ident': return e.name;
    case 'unary':
      if (e.op === '!') return `(${exprToTs(e.e)} === 0 ? 1 : 0)`;
      return `(${e.op}${exprToTs(e.e)} | 0)`;
    case 'binary': {
      const l = exprToTs(e.l);
      const r = exprToTs(e.r);
      switch (e.op) {
        case '&&': return `(${l} !== 0 && ${r} !== 0 ? 1 : 0)`;
        case '||': return `(${l} !== 0 || ${r} !== 0 ? 1 : 0)`;
        case '==': return `(${l} === ${r} ? 1 : 0)`;
        case '!=': return `(${l} !== ${r} ? 1 : 0)`;
        case '<': case '>': case '<=': case '>=': return `(${l} ${e.op} ${r} ? 1 : 0)`;
        case '/': return `Math.trunc(${l} / ${r})`;
        case '*': return `Math.imul(${l}, ${r})`;
        case ',': return `(${l}, ${r})`;
        default: return `((${l} ${e.op} ${r}) | 0)`;
      }
    }
    case 'cond': return `(${exprToTs(e.c)} !== 0 ? ${exprToTs(e.t)} : ${exprToTs(e.f)})`;
    default: throw new Error(`cannot translate ${e.k}`);
  }
}
