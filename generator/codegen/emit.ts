/**
 * Emit: the TypeScript bindings of one header, for every ABI, through the
 * Handlebars templates in templates/. Files are grouped so that ABIs with
 * identical codecs (or constants) share one module; each ABI gets a small module
 * re-exporting its variants, and index.ts picks the running process's ABI.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type HandlebarsNs from 'handlebars';
import { ABIS, type Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { AbiLayout, type ConstantValue } from '../layout/layout.js';
import { parseHeaderForAbis } from '../parse/parse.js';
import { identifiersOf } from '../expr/ast.js';
import { commentText } from '../source/lexer.js';
import { CodecWriter, Shapes, ownRecords } from './codecs.js';
import { replaceDirectory } from './swap.js';
import { capabilitySpecs, exprToTs, flagGroups, functionSpecs, ioctlSpecs } from './associations.js';
import { isBindable, propertyKey, typeName } from './names.js';

const require = createRequire(import.meta.url);

/** Options of {@link generateBindings}. */
export interface GenerateOptions {
  /** The header to read. */
  readonly header: string;
  /** Output directory; the bindings go to `<out>/<name>/`. */
  readonly out: string;
  /** Module name (default: the header's basename without `.h`). */
  readonly name?: string;
  /** The header's version for the provenance line (default: its directory's name when that is a version). */
  readonly version?: string;
  readonly includeDirs?: readonly string[];
  /** Copy the header's comments into TSDoc (off by default: generated docs are our own words). */
  readonly withComments?: boolean;
  /** ABIs to emit (default: all). */
  readonly abis?: readonly Abi[];
}

/** Generated files: path relative to the output directory -> contents. */
export type FileSet = Map<string, string>;

/** The package root: two levels above generator/codegen/, one more when running from dist/. */
const PACKAGE_ROOT = (() => {
  const twoUp = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(twoUp) === 'dist' ? dirname(twoUp) : twoUp;
})();
const TEMPLATES = join(PACKAGE_ROOT, 'templates');

let templates: Record<string, HandlebarsNs.TemplateDelegate> | undefined;

/**
 * The templates, compiled. Compiling them is a tenth of a `generate` run, so their precompiled form
 * (Handlebars' own `precompile`) is kept in the user's cache (`$VFIO_UAPI_CACHE`, else `~/.cache/vfio-uapi`) under a hash of the template sources and
 * loaded with the Handlebars runtime alone; the first run, or a run after a template changed, compiles
 * them (same output either way: it is the same compiler's code).
 */
function loadTemplates(): Record<string, HandlebarsNs.TemplateDelegate> {
  const names = readdirSync(TEMPLATES).filter((x) => x.endsWith('.hbs')).sort();
  const sources = names.map((f) => readFileSync(join(TEMPLATES, f), 'utf8'));
  const hash = createHash('sha1').update(JSON.stringify([names, sources, require('handlebars/package.json').version])).digest('hex').slice(0, 16);
  const cached = join(process.env.VFIO_UAPI_CACHE || join(homedir(), '.cache', 'vfio-uapi'), 'templates', `${hash}.cjs`);
  let specs: Record<string, unknown> | undefined;
  try {
    specs = require(cached) as Record<string, unknown>;
  } catch {
    const full = require('handlebars') as typeof HandlebarsNs;
    const text = `module.exports = {${names.map((f, i) => `${JSON.stringify(f)}: ${full.precompile(sources[i]!, { noEscape: true, strict: true })}`).join(',\n')}};\n`;
    try {
      mkdirSync(dirname(cached), { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, cached);
      specs = require(cached) as Record<string, unknown>;
    } catch {
      specs = undefined; // no writable temp dir: compile in memory
    }
    if (!specs) {
      const out: Record<string, HandlebarsNs.TemplateDelegate> = {};
      full.registerPartial('header', sources[names.indexOf('header.hbs')]!);
      names.forEach((f, i) => { if (f.endsWith('.ts.hbs')) out[f.replace(/\.ts\.hbs$/, '')] = full.compile(sources[i]!, { noEscape: true, strict: true }); });
      return out;
    }
  }
  const runtime = require('handlebars/runtime') as typeof HandlebarsNs;
  const out: Record<string, HandlebarsNs.TemplateDelegate> = {};
  for (const f of names) {
    const t = runtime.template(specs[f] as Parameters<typeof runtime.template>[0]);
    if (f === 'header.hbs') runtime.registerPartial('header', t);
    else out[f.replace(/\.ts\.hbs$/, '')] = t;
  }
  return out;
}

function template(name: string): HandlebarsNs.TemplateDelegate {
  templates ??= loadTemplates();
  const t = templates[name];
  if (!t) throw new Error(`missing template ${name}.ts.hbs in ${TEMPLATES}`);
  return t;
}

/** Makes text safe inside a `/** ... *\/` comment. */
function doc(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim();
}

/** The version shown in the provenance line. */
function headerVersion(path: string, given?: string): string {
  if (given) return given;
  const dir = basename(dirname(resolve(path)));
  return /^\d+\.\d+/.test(dir) ? dir : 'unknown version';
}

/** Groups ABIs by identical text, keeping table order; each group is named after its first ABI. */
function groupByText(entries: { abi: Abi; text: string }[]): { name: string; abis: Abi[]; text: string }[] {
  const groups: { name: string; abis: Abi[]; text: string }[] = [];
  for (const e of entries) {
    const g = groups.find((x) => x.text === e.text);
    if (g) g.abis.push(e.abi);
    else groups.push({ name: e.abi.name, abis: [e.abi], text: e.text });
  }
  return groups;
}

const tsValue = (v: bigint) => (v < 2n ** 53n && v > -(2n ** 53n) ? { ts: 'number', text: v.toString() } : { ts: 'bigint', text: `${v}n` });

/**
 * Which ABIs must come out alike: the IR they were parsed into (one object when the header does not
 * depend on the ABI) and the ABI table's entries that a layout or an evaluation reads.
 */
function layoutRulesKey(layout: AbiLayout, irs: ReadonlyMap<string, HeaderIR>, fields: readonly (keyof Abi)[]): string {
  const irIndex = [...new Set(irs.values())].indexOf(layout.ir);
  return JSON.stringify([irIndex, fields.map((f) => layout.abi[f])]);
}

/** Generates the bindings of one header in memory. */
export function generateBindings(options: GenerateOptions): FileSet {
  const abis = options.abis ?? ABIS;
  const irs = parseHeaderForAbis(options.header, abis, { includeDirs: options.includeDirs });
  const ir = irs.get(abis[0]!.name)!;
  const name = options.name ?? basename(options.header).replace(/\.h$/, '');
  const layouts = abis.map((abi) => new AbiLayout(irs.get(abi.name)!, abi));
  // Codecs and types share record ids across ABIs: an ABI-dependent header must declare the same records everywhere.
  const recordNames = (x: HeaderIR) => x.records.map((r) => `${r.tag} ${r.name ?? ''}`).join(',');
  for (const l of layouts) {
    if (recordNames(l.ir) !== recordNames(ir)) throw new Error(`${ir.file}: its records differ between ABIs (${abis[0]!.name} and ${l.abi.name}); generate does not support ABI-dependent declarations`);
  }
  const provenance = { header: basename(ir.file), version: headerVersion(ir.file, options.version), sha256: ir.sha256 };
  const outDir = resolve(options.out, name);
  const runtimeFrom = (subdir: string) => {
    const fileDir = join(outDir, subdir);
    const inside = !relative(PACKAGE_ROOT, fileDir).startsWith('..');
    if (!inside) return 'vfio-uapi/runtime';
    const rel = relative(fileDir, join(PACKAGE_ROOT, 'runtime')).split(sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const files: FileSet = new Map();
  const shapes = new Shapes(layouts);
  const own = ownRecords(ir);
  const originOf = (loc: { file: string; line: number }) => `${basename(loc.file)}:${loc.line}`;
  const commentBefore = (line: number) => {
    if (!options.withComments) return undefined;
    const c = ir.comments.find((x) => x.endLine === line - 1 || x.endLine === line - 2);
    return c ? commentText(c).split('\n').map((l) => ` * ${l.replace(/\*\//g, '*\\/')}`).join('\n').trimEnd() : undefined;
  };

  // Records: the same interfaces everywhere.
  const flags = flagGroups(ir, layouts[0]!);
  const interfaces = [...shapes.interfaces.values()].map((i) => ({
    name: i.name, tag: i.decl.tag, cName: i.decl.name, origin: originOf(i.decl.loc), comment: commentBefore(i.decl.loc.line),
    props: i.props.map((p) => ({ key: propertyKey(p.name), optional: p.optional, ts: p.ts, c: doc(p.c) })),
  }));
  const flagTypes = flags.map((g) => ({ name: `${typeName(g.record.name!)}${typeName(g.field)}Name`, field: `${g.record.tag} ${g.record.name}.${g.field}`, union: g.bits.map((b) => `'${b}'`).join(' | ') }));
  files.set('types.ts', template('types')({ ...provenance, interfaces, flagTypes }));

  // Codecs per ABI, grouped.
  // ABIs that share the IR and every layout rule of the table lay records out alike: write their codecs once.
  const codecMemo = new Map<string, { codecs: { fields: unknown; code: string }[]; helpers: string[] }>();
  const codecTexts = layouts.map((layout) => {
    const key = layoutRulesKey(layout, irs, ['endian', 'charSigned', 'scalars', 'maxAlign']);
    let written = codecMemo.get(key);
    if (!written) {
      const w = new CodecWriter(layout, layouts, shapes);
      const codecs = own.map((r) => ({ fields: w.fieldTable(r), code: w.codec(r) }));
      codecMemo.set(key, (written = { codecs, helpers: w.helperFunctions() }));
    }
    return { abi: layout.abi, ...written };
  });
  const codecGroups = groupByText(codecTexts.map((c) => ({ abi: c.abi, text: JSON.stringify([c.codecs, c.helpers]) })));
  const interfaceNames = [...shapes.interfaces.values()].map((i) => i.name);
  for (const g of codecGroups) {
    const c = codecTexts.find((x) => x.abi === g.abis[0])!;
    let text = template('codecs')({ ...provenance, runtime: runtimeFrom('codecs'), abiList: g.abis.map((a) => a.name).join(', '), endian: g.abis[0]!.endian, codecs: c.codecs, helpers: c.helpers });
    text = text.replace("import type * as T from '../types.js';", interfaceNames.length ? `import type { ${interfaceNames.join(', ')} } from '../types.js';` : '');
    files.set(`codecs/${g.name}.ts`, text);
  }

  // Constants per ABI, grouped.
  const macroBody = new Map(ir.macros.map((m) => [m.name, m.body]));
  const constantMemo = new Map<string, ConstantValue[]>();
  const constantLists = layouts.map((l) => {
    const key = layoutRulesKey(l, irs, ['charSigned', 'scalars', 'maxAlign', 'ioc']);
    let list = constantMemo.get(key);
    if (!list) constantMemo.set(key, (list = l.constants().values.filter((c) => isBindable(c.name))));
    return list;
  });
  const constantEntries = (list: ConstantValue[]) => list.map((c) => {
    const v = tsValue(c.value);
    const expr = c.source === 'macro' ? doc(macroBody.get(c.name) ?? '') : `enumerator`;
    const hex = c.value < 0n ? `-0x${(-c.value).toString(16)}` : `0x${c.value.toString(16)}`;
    return { name: c.name, value: v.text, tsType: v.ts, expr, hex, ctype: c.type.name, origin: originOf(c.loc) };
  });
  const constantGroups = groupByText(layouts.map((l, i) => ({ abi: l.abi, text: JSON.stringify(constantEntries(constantLists[i]!)) })));
  for (const g of constantGroups) {
    files.set(`constants/${g.name}.ts`, template('constants')({ ...provenance, abiList: g.abis.map((a) => a.name).join(', '), constants: JSON.parse(g.text) }));
  }

  // One module per ABI.
  for (const abi of abis) {
    files.set(`abi/${abi.name}.ts`, template('abi')({
      ...provenance, abi: abi.name,
      codecs: codecGroups.find((g) => g.abis.includes(abi))!.name,
      constants: constantGroups.find((g) => g.abis.includes(abi))!.name,
    }));
  }

  // Index: the running ABI.
  const constTypes = new Map<string, Set<string>>();
  constantLists.forEach((list) => list.forEach((c) => {
    if (!constTypes.has(c.name)) constTypes.set(c.name, new Set());
    constTypes.get(c.name)!.add(tsValue(c.value).ts);
  }));
  // Sets, not list searches: a header may define tens of thousands of constants.
  const namesPerAbi = constantLists.map((l) => new Set(l.map((c) => c.name)));
  const everywhere = [...constTypes.keys()].filter((n) => namesPerAbi.every((names) => names.has(n)));
  const everywhereSet = new Set(everywhere);
  const tsTypeOf = (n: string) => [...constTypes.get(n)!].sort().join(' | ');
  const ioctlList = ioctlSpecs(ir).filter((s) => everywhereSet.has(s.name));
  const ioctls = ioctlList.map((s) => {
    const arg = s.arg.kind === 'struct' && !own.some((r) => r.name === (s.arg as { record: string }).record)
      ? { kind: 'unknown', reason: `struct ${s.arg.record} is not defined by this header` } : s.arg;
    return JSON.stringify({ name: s.name, fd: s.fd, arg }).replace(/"(\w+)":/g, '$1: ').replace(/,(?=\w+: )/g, ', ').replace(/"/g, "'");
  });
  const funcs = functionSpecs(ir, layouts).specs
    .filter((f) => isBindable(f.macro.name) && !everywhereSet.has(f.macro.name))
    .filter((f) => [...new Set(f.macro.params)].every(isBindable))
    // Emitted as 32-bit int arithmetic: only over constants that are numbers on every ABI.
    .filter((f) => [...identifiersOf(f.expr)].every((i) => !constTypes.has(i) || tsTypeOf(i) === 'number'))
    .map((f) => ({ name: f.macro.name, params: f.macro.params!.join(', '), typedParams: f.macro.params!.map((p) => `${p}: number`).join(', '), body: exprToTs(f.expr), origin: originOf(f.macro.loc) }));
  const isNumber = (n: string) => everywhereSet.has(n) && tsTypeOf(n) === 'number';
  const flagSets = flags.map((g, i) => ({
    name: g.field === 'flags' ? `${g.record.name}_flags` : `${g.record.name}_${g.field}_flags`, field: `${g.record.tag} ${g.record.name}.${g.field}`, typeName: flagTypes[i]!.name,
    bits: g.bits.filter(isNumber), masks: g.masks.filter(isNumber),
  })).filter((f) => f.bits.length > 0 && !everywhereSet.has(f.name));
  const capabilities = capabilitySpecs(ir, layouts[0]!).filter((c) => isNumber(c.id));
  const index = template('index')({
    ...provenance, runtime: runtimeFrom('.'),
    abis: abis.map((a) => ({ name: a.name, ident: a.name })),
    nodeAbis: abis.filter((a) => a.node).map((a) => ({ key: `${a.node!.arch}/${a.node!.endian}`, abi: a.name })),
    constants: everywhere.map((n) => ({ name: n, tsType: tsTypeOf(n) })),
    codecs: own.map((r) => ({ name: r.name, cName: `${r.tag} ${r.name}`, codecType: codecTypeOf(layouts[0]!, shapes, r) })),
    flags: flagSets, functions: funcs, ioctls, ioctlNames: ioctlList.map((s) => s.name), capabilities,
  });
  files.set('index.ts', index);
  return files;
}

/** `Codec<T.X>` or `FlexCodec<T.X, E>` for a record. */
function codecTypeOf(layout: AbiLayout, shapes: Shapes, r: import('../ir/types.js').RecordDecl): string {
  const T = `T.${shapes.interfaceOf(r.id)}`;
  const last = r.fields![r.fields!.length - 1];
  if (last) {
    const t = layout.resolve(last.type, last.loc);
    if (t.kind === 'array' && t.length === null && last.name) {
      const e = shapes.tsType(t, last.loc).replace(/\b([A-Z]\w*)(?=\[\])/g, (m) => (m === 'Uint8Array' ? m : `T.${m}`));
      return `FlexCodec<${T}, ${e}>`;
    }
  }
  return `Codec<${T}>`;
}

/** Paths that differ between `files` and what is in `outDir/<name>` (missing, changed, or extra). */
export function diffFileSet(dir: string, files: FileSet): string[] {
  const differ: string[] = [];
  for (const [rel, text] of files) {
    const p = join(dir, rel);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) differ.push(rel);
  }
  if (existsSync(dir)) {
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [relative(dir, join(d, f)).split(sep).join('/')]));
    for (const rel of walk(dir)) if (!files.has(rel)) differ.push(`${rel} (not generated any more)`);
  }
  return differ.sort();
}

/**
 * Writes `files` to `dir`, replacing its contents atomically: at every instant `dir` holds the complete old
 * or the complete new set (see swap.ts), and leftovers of killed runs are removed.
 */
export function writeFileSet(dir: string, files: FileSet): void {
  replaceDirectory(dir, files);
}

export type { HeaderIR };
