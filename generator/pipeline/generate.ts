/**
 * The pipeline driver of `generate`: header -> preprocess and parse (per ABI)
 * -> IR -> layout (per ABI) -> analysis -> emit, into files in memory. Writing
 * them is {@link writeFileSet}'s.
 */
import { basename, dirname, resolve } from 'node:path';
import { ABIS, type Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { HeaderError } from '../errors.js';
import { AbiLayout } from '../layout/layout.js';
import { parseHeaderForAbis } from '../parse/parse.js';
import { analyzeHeader } from '../analysis/conventions.js';
import { emitBindings, type FileSet } from '../codegen/emit.js';
import { packageVersion } from '../paths.js';

export { diffFileSet, writeFileSet } from './files.js';
export type { FileSet };

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

/** The version shown in the provenance line. */
function headerVersion(path: string, given?: string): string {
  if (given) return given;
  const dir = basename(dirname(resolve(path)));
  return /^\d+\.\d+/.test(dir) ? dir : 'unknown version';
}

/** Generates the bindings of one header in memory. */
export function generateBindings(options: GenerateOptions): FileSet {
  const abis = options.abis ?? ABIS;
  const irs = parseHeaderForAbis(options.header, abis, { includeDirs: options.includeDirs });
  const ir = irs.get(abis[0]!.name)!;
  const name = options.name ?? basename(options.header).replace(/\.h$/, '');
  const layouts = abis.map((abi) => new AbiLayout(irs.get(abi.name)!, abi));
  // Codecs and types share record ids across ABIs: an ABI-dependent header must declare the same records everywhere.
  // A located error at the first record that differs (a limit of ours: C has no such rule).
  const recordName = (r: HeaderIR['records'][number]) => `${r.tag} ${r.name ?? '(anonymous)'}`;
  for (const l of layouts) {
    if (l.ir.records === ir.records) continue;
    const n = Math.max(l.ir.records.length, ir.records.length);
    for (let i = 0; i < n; i++) {
      const [a, b] = [ir.records[i], l.ir.records[i]];
      if (a && b && recordName(a) === recordName(b)) continue;
      const at = (a ?? b)!;
      const which = a && b ? `${recordName(a)} on ${abis[0]!.name}, ${recordName(b)} on ${l.abi.name}` : `${recordName(at)} on ${a ? abis[0]!.name : l.abi.name} only`;
      throw new HeaderError(at.loc, `the header declares different records on different ABIs (${which}); generate needs the same records on every ABI it emits (give one ABI with --abi, or use layout)`);
    }
  }
  // Flags that change the output, recorded in the provenance line.
  const flags = [
    options.withComments ? '--with-comments' : '',
    options.abis && options.abis.length !== ABIS.length ? `--abi ${options.abis.map((a) => a.name).join(',')}` : '',
  ].filter(Boolean).join(' ');
  return emitBindings({
    ir, layouts, analysis: analyzeHeader(ir, layouts), withComments: options.withComments,
    provenance: { header: basename(ir.file), version: headerVersion(ir.file, options.version), sha256: ir.sha256, generator: packageVersion(), flags },
  });
}
