/**
 * `--include` a kernel include tree: `<asm/...>` through the ABI's multiarch folder, quoted includes beside
 * the including file, the tree's headers before the built-ins, the libc model, and located errors where
 * the model does not reach. Small made-up trees; test/libc-model.test.ts checks real ones against clang.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ABIS, abiByName } from '../generator/abi/abis.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { layoutJson } from '../generator/layout/json.js';
import { HeaderError } from '../generator/errors.js';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'vfio-uapi-tree-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

const layout = (root: string, header: string, abi: string) => {
  const a = abiByName(abi);
  return layoutJson(parseHeaderForAbis(join(root, header), [a], { includeDirs: [root] }).get(abi)!, a);
};

describe('--include a kernel include tree', () => {
  const root = tree({
    'x86_64-linux-gnu/asm/thing.h': 'struct arch_thing { long a; char b[3]; };\n#define ARCH_ID 64\n',
    'i386-linux-gnu/asm/thing.h': 'struct arch_thing { long long a; };\n#define ARCH_ID 32\n',
    'linux/thing.h': '#include <asm/thing.h>\n#include "thing_extra.h"\nstruct thing { struct arch_thing t; struct extra e; };\n#define THING_ID (ARCH_ID + EXTRA_ID)\n',
    'linux/thing_extra.h': 'struct extra { int x; };\n#define EXTRA_ID 1\n',
    'linux/uses_libc.h': '#include <stdint.h>\n#include <sys/time.h>\n#include <limits.h>\nstruct stamp { struct timeval tv; uint64_t n; };\n#define STAMP_MAX LONG_MAX\n',
    'linux/uses_netinet.h': '#include <netinet/in.h>\nstruct s { int x; };\n',
    // mips's asm/bitfield.h: an #error unless the ABI's macros say which endianness.
    'mips-linux-gnu/asm/order.h': '#if defined(__MIPSEB__)\n#define ORDER 1\n#elif defined(__MIPSEL__)\n#define ORDER 2\n#else\n#error "MIPS but neither __MIPSEL__ nor __MIPSEB__?"\n#endif\n',
    'mips64el-linux-gnuabi64/asm/order.h': '#if defined(__MIPSEB__)\n#define ORDER 1\n#elif defined(__MIPSEL__)\n#define ORDER 2\n#else\n#error "MIPS but neither __MIPSEL__ nor __MIPSEB__?"\n#endif\n',
    'linux/order.h': '#include <asm/order.h>\n#define MY_ORDER ORDER\n',
    // Identical redefinitions (C11 6.10.3p2): each file that writes the #define defines the macro.
    'linux/redef_base.h': '#define RD_A 0x10\n',
    'linux/redef_later.h': '#include <linux/redef_base.h>\n#define RD_A 0x10\n#define RD_B 2\n#include <linux/redef_tail.h>\n',
    'linux/redef_tail.h': '#define RD_B 2\n',
  });

  it('a macro defined again identically belongs to every header that writes it', () => {
    expect(layout(root, 'linux/redef_later.h', 'x86_64').constants).toEqual({ RD_A: 16, RD_B: 2 });
    expect(layout(root, 'linux/redef_tail.h', 'x86_64').constants).toEqual({ RD_B: 2 });
  });

  it('a header that does not preprocess without an ABI\'s macros (#error) is laid out per ABI', () => {
    expect(layout(root, 'linux/order.h', 'mips').constants).toEqual({ MY_ORDER: 1 });
    expect(layout(root, 'linux/order.h', 'mips64el').constants).toEqual({ MY_ORDER: 2 });
    expect(() => layout(root, 'linux/order.h', 'x86_64')).toThrow(/cannot find <asm\/order.h>/);
  });

  it('resolves <asm/...> through each ABI\'s multiarch folder, "X" beside the includer', () => {
    expect(layout(root, 'linux/thing.h', 'x86_64')).toMatchObject({ constants: { THING_ID: 65 }, records: { 'struct thing': { size: 24, fields: { e: 16 } } } });
    expect(layout(root, 'linux/thing.h', 'i386')).toMatchObject({ constants: { THING_ID: 33 }, records: { 'struct thing': { size: 12, fields: { e: 8 } } } });
  });

  it('an ABI without the file gets a located error naming the folder', () => {
    let err: unknown;
    try { layout(root, 'linux/thing.h', 's390x'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(HeaderError);
    expect((err as Error).message).toMatch(/linux\/thing\.h:1:\d+: error: cannot find <asm\/thing\.h>: .*s390x-linux-gnu/);
  });

  it('takes libc headers from the built-in model, per ABI', () => {
    expect(layout(root, 'linux/uses_libc.h', 'x86_64')).toMatchObject({ constants: { STAMP_MAX: '9223372036854775807' }, records: { 'struct stamp': { size: 24, fields: { tv: 0, n: 16 } } } });
    expect(layout(root, 'linux/uses_libc.h', 'i386')).toMatchObject({ constants: { STAMP_MAX: 2147483647 }, records: { 'struct stamp': { size: 16, align: 4, fields: { n: 8 } } } });
    // Records of the model are not the header's own.
    expect(layout(root, 'linux/uses_libc.h', 'sparc64').records['struct timeval']).toBeUndefined();
  });

  it('a libc header outside the model is a located error', () => {
    expect(() => layout(root, 'linux/uses_netinet.h', 'x86_64')).toThrow(/uses_netinet\.h:1:\d+: error: cannot find <netinet\/in\.h>: not built in \(see the libc model/);
  });

  it('ABIs with the same preprocessed text share one parse', () => {
    const irs = parseHeaderForAbis(join(root, 'linux/uses_libc.h'), ABIS, { includeDirs: [root] });
    const records = new Set([...irs.values()].map((ir) => ir.records));
    expect(records.size).toBeLessThan(ABIS.length);
    for (const [abi, ir] of irs) expect(ir.abi).toBe(abi);
  });
});
