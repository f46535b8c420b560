/**
 * Emit's merge across ABIs and its stability: what is the same on every ABI
 * is emitted once, what differs goes to per-group modules; a one-field change
 * of a header is a small diff (temporaries numbered per function); the
 * provenance line records the generator and round-trips through its parser.
 */
import { describe, expect, it } from 'vitest';
import { ABIS } from '../generator/abi/abis.js';
import { generateBindings } from '../generator/pipeline/generate.js';
import { formatProvenance, parseProvenance } from '../generator/provenance.js';
import { packageVersion } from '../generator/paths.js';
import { writeHeaders } from './helpers.js';

const header = (second: string, extra = '') => `#include <linux/types.h>
#include <linux/ioctl.h>
#define DEMO_TYPE 0x44
#define DEMO_FLAG_A (1 << 0)
#define DEMO_FLAG_B (1 << 1)
struct demo_same {
\t__u32 argsz;
\t__u32 flags;${extra}
};
struct demo_mixed {
\t__u32 argsz;
${second}
\t__u64 value;
};
struct demo_last {
\t__u16 a;
\t__u16 b;
\t__u32 c;
};
#define DEMO_GET _IOR(DEMO_TYPE, 1, struct demo_mixed)
`;

const generate = (second: string, extra = '') => generateBindings({ header: writeHeaders({ 'demo.h': header(second, extra) }), out: '/nonexistent', version: '1.0', abis: ABIS });

describe('emit merged across ABIs', () => {
  const files = generate('\t__u32 count;');

  it('emits a record laid out alike everywhere once, and one laid out differently per group, and only it', () => {
    const shared = files.get('codecs.ts')!;
    // struct demo_same and demo_last: the same offsets, size and alignment on every ABI: in the shared factory only.
    expect(shared).toMatch(/const demo_same: Codec<DemoSame>/);
    expect(shared).toMatch(/const demo_last: Codec<DemoLast>/);
    // struct demo_mixed: 8-aligned on most ABIs, 4 on i386; with a lone __u32 before the __u64 its offset differs too.
    expect(shared).not.toMatch(/const demo_mixed:/);
    expect([...files.keys()].filter((f) => f.startsWith('codecs/')).sort()).toEqual(['codecs/i386.ts', 'codecs/x86_64.ts']);
    const odd = generate('');
    expect(odd.get('codecs/i386.ts')).toMatch(/\{ path: "value", offset: 4, size: 8/);
    expect(odd.get('codecs/x86_64.ts')).toMatch(/\{ path: "value", offset: 8, size: 8/);
    for (const f of ['codecs/i386.ts', 'codecs/x86_64.ts']) expect(files.get(f)).not.toMatch(/const demo_(same|last):/);
    expect(files.get('abi/i386.ts')).toContain("import { abiCodecs } from '../codecs/i386.js';");
    expect(files.get('abi/aarch64.ts')).toContain("import { abiCodecs } from '../codecs/x86_64.js';");
    // The byte order is the factory's parameter, never a literal: ppc64 (big-endian) shares x86_64's code.
    expect(shared).not.toMatch(/, (true|false)\)/);
    expect(files.get('abi/ppc64.ts')).toContain("import { abiCodecs } from '../codecs/x86_64.js';");
    for (const abi of ABIS) expect(files.get(`abi/${abi.name}.ts`)).toContain(`= sharedCodecs(${abi.endian === 'little'})`);
  });

  it('types constants that are the same everywhere as their value, with the value and header line in the doc', () => {
    const constants = files.get('constants.ts')!;
    expect(constants).toMatch(/\/\*\* `\(1 << 1\)` = 0x2, int; demo\.h:5\. \*\/\nexport const DEMO_FLAG_B = 2;/);
    // The ioctl number differs where _IOC's bits differ (ppc, mips, sparc): per group, typed number.
    expect(constants).not.toMatch(/DEMO_GET/);
    expect(files.get('constants/x86_64.ts')).toMatch(/export const DEMO_GET: number = \d+;/);
    expect(files.get('index.ts')).toMatch(/\/\*\* `_IOR\(DEMO_TYPE, 1, struct demo_mixed\)` on the running ABI: 0x[0-9a-f]+ on x86_64, [^;]*; 0x[0-9a-f]+ on [^*]*; demo\.h:\d+\. \*\/\nexport const DEMO_GET: number = current\.DEMO_GET;/);
  });

  it('imports exactly what each module uses', () => {
    const shared = files.get('codecs.ts')!;
    // One import of the runtime, through its public entry point for generated code; values are called, types used.
    expect([...shared.matchAll(/^import .* from '(vfio-uapi[^']*)';$/gm)].map((m) => m[1])).toEqual(['vfio-uapi/codegen-v1']);
    const imported = /^import \{ ([^}]*) \} from 'vfio-uapi\/codegen-v1';$/m.exec(shared)![1]!.split(', ');
    const body = shared.split('\n').filter((l) => !l.startsWith('import')).join('\n');
    for (const t of imported.filter((n) => n.startsWith('type '))) expect(body).toMatch(new RegExp(`\\b${t.slice(5)}\\b`));
    for (const name of imported.filter((n) => !n.startsWith('type '))) expect(shared.split('\n').filter((l) => !l.startsWith('import')).join('\n')).toMatch(new RegExp(`\\b${name}\\(`));
    expect(shared).not.toMatch(/void \[/);
  });

  it('a field added to the first record changes that record\'s code only (temporaries numbered per function)', () => {
    const before = generate('\t__u32 count;');
    const after = generate('\t__u32 count;', '\n\t__u32 extra;');
    // Header lines move down by one after the new field: compare the code, not the `demo.h:<line>` notes.
    const noLines = (t: string) => t.replace(/demo\.h:\d+/g, 'demo.h:N');
    const block = (text: string, rec: string) => noLines(text.slice(text.indexOf(`const ${rec}$fields`), text.indexOf('\n  }\n', text.indexOf(`function write$${rec}(`))));
    expect(block(after.get('codecs.ts')!, 'demo_last')).toBe(block(before.get('codecs.ts')!, 'demo_last'));
    for (const f of ['codecs/i386.ts', 'codecs/x86_64.ts']) expect(noLines(after.get(f)!).split('\n').slice(1)).toEqual(noLines(before.get(f)!).split('\n').slice(1));
    // What changed in codecs.ts: demo_same's new row, decoder line, encoder lines, and its size (8 -> 12).
    const lines = (t: string) => t.split('\n').slice(1);
    const gone = lines(before.get('codecs.ts')!).filter((l) => !lines(after.get('codecs.ts')!).includes(l));
    const added = lines(after.get('codecs.ts')!).filter((l) => !lines(before.get('codecs.ts')!).includes(l));
    expect(added.length).toBeLessThanOrEqual(12);
    expect(gone.length).toBeLessThanOrEqual(8);
    expect([...added, ...gone].every((l) => /demo_same|extra|m2\b|\b(8|12)\b/.test(l))).toBe(true);
  });
});

describe('provenance line', () => {
  it('records the generator version and flags, and parses back; a 0.1.0 line still parses', () => {
    const p = { header: 'vfio.h', version: '7.2.13', sha256: 'ab'.repeat(32), generator: '0.2.0', flags: '--with-comments' };
    const line = formatProvenance(p);
    expect(line).toBe(`// Code generated by vfio-uapi 0.2.0 (--with-comments) from vfio.h (7.2.13, sha256 ${'ab'.repeat(32)}). DO NOT EDIT.`);
    expect(parseProvenance(line)).toEqual(p);
    expect(parseProvenance(`// Code generated by vfio-uapi from vfio.h (7.2.13, sha256 ${'ab'.repeat(32)}). DO NOT EDIT.`))
      .toEqual({ header: 'vfio.h', version: '7.2.13', sha256: 'ab'.repeat(32), generator: undefined, flags: '' });
    expect(parseProvenance('// something else')).toBeUndefined();
    const files = generate('\t__u32 count;');
    for (const text of files.values()) expect(parseProvenance(text.split('\n', 1)[0]!)).toMatchObject({ header: 'demo.h', version: '1.0', generator: packageVersion(), flags: '' });
  });
});
