/**
 * The conformance manifest drops no macro silently: every macro of the header is an integer constant of the
 * manifest or listed in `notConstants` with its reason, and an integer macro our evaluator cannot evaluate
 * stops the manifest with its location (the suite would otherwise check the kernel without it).
 */
import { describe, expect, it } from 'vitest';
import { buildManifest } from '../conformance/suite/manifest.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { abiByName } from '../generator/abi/abis.js';
import { corpusHeaders, HAVE_CORPUS, thrown, writeHeaders } from './helpers.js';

const PRELUDE = '#include <linux/types.h>\n#include <linux/ioctl.h>\n';

describe('conformance manifest: macros', () => {
  it('lists each macro that is not an integer constant, with the reason', () => {
    const header = writeHeaders({
      'vfio.h': `${PRELUDE}#ifndef GUARD_H
#define GUARD_H
#define VFIO_TYPE (';')
#define VFIO_BASE 100
#define NAME_STRING "vfio-pci"
#define IS_SET(x) ((x) & 1)
#define A_TYPE struct foo
#define VFIO_GET_API_VERSION _IO(VFIO_TYPE, VFIO_BASE + 0)
#endif
`,
    });
    const m = buildManifest(header);
    expect(m.constants).toMatchObject({ VFIO_TYPE: 59, VFIO_BASE: 100, VFIO_GET_API_VERSION: 0x3b64 });
    const reasons = Object.fromEntries(m.notConstants.map((n) => [n.name, n.reason]));
    expect(reasons).toMatchObject({ GUARD_H: 'empty', NAME_STRING: 'a string', IS_SET: 'function-like' });
    expect(reasons.A_TYPE).toMatch(/^not an expression/);
    expect(Object.keys(m.constants).length + m.notConstants.length).toBe(7);
  });

  it('fails, with the location and the reason, on an integer macro it cannot evaluate', () => {
    const header = writeHeaders({ 'vfio.h': `${PRELUDE}#define VFIO_TYPE (';')\n#define GOOD 1\n#define BAD (1 / 0)\n#define ALSO_BAD (GOOD << 99999)\n` });
    const e = thrown(() => buildManifest(header));
    expect(e.message).toMatch(/cannot evaluate 2 integer macro\(s\)/);
    const lines = e.message.split('\n');
    expect(lines[1]).toBe(`${header}:5:9: error: BAD: division by zero`);
    expect(lines[2]).toMatch(new RegExp(`^${header.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:9: error: ALSO_BAD: shift count`));
  });

  it.skipIf(!HAVE_CORPUS)('every corpus vfio.h and iommufd.h: each macro a constant or listed, none failing', () => {
    const headers = corpusHeaders().filter((h) => h.name === 'vfio.h' || h.name === 'iommufd.h');
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) {
      const m = buildManifest(h.path);
      const macros = parseHeaderForAbis(h.path, [abiByName('x86_64')]).get('x86_64')!.macros.map((x) => x.name);
      const listed = new Set([...Object.keys(m.constants), ...m.notConstants.map((n) => n.name)]);
      expect(macros.filter((x) => !listed.has(x)), h.path).toEqual([]);
    }
  }, 120_000);
});
