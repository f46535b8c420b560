/**
 * A small fixed sample of the fuzz campaign (`npm run fuzz` runs the whole
 * one): seeded corpus mutants and some of the hostile shapes, each through our
 * `layout --json` and `clang -fsyntax-only`. No silent acceptance of invalid C,
 * no stack trace, no error without a location, nothing over 10 s of CPU or 1 GiB.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, hostileShapes, makeMutants, runCampaign, summarize, type Mutant } from '../scripts/fuzz.js';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { CORPUS, HAVE_CORPUS } from './helpers.js';

const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');
const SAMPLE = [
  'a keyword typo', 'duplicate members', 'a duplicate member inside an anonymous member', 'division by zero in an enum after an ioctl',
  'a recursive macro as an enum value', 'float bit-field', 'named zero-width bit-field', 'aligned(3)', 'a literal of 2^64',
  'an array of 2^80 bytes', 'INT64_MIN % -1', 'unnamed bit-fields as padding', '10k nested ?:', '24 unused doubling macros',
  'a 1 MB expression', '#include of /dev/zero',
];

describe.skipIf(!existsSync(cli) || !HAVE_CORPUS || installedClangs().length === 0)('fuzz sample', () => {
  it('12 seeded mutants and 16 hostile shapes: no silent acceptance, stack trace, timeout or blow-up', async () => {
    const mutants: Mutant[] = [
      ...(await makeMutants(CORPUS, { seed: 2026, count: 12, hostile: false })),
      ...hostileShapes().filter((h) => SAMPLE.includes(h.what)).map((h, i) => ({ id: `h${i}`, origin: `hostile: ${h.what}`, name: 'hostile.h', text: h.text })),
    ];
    expect(mutants).toHaveLength(12 + SAMPLE.length);
    const s = summarize(await runCampaign(mutants, { concurrency: 2 }));
    console.log(formatSummary(s, 2026));
    expect(s.silentAcceptances.map((o) => o.mutant.origin)).toEqual([]);
    expect(s.stackTraces.map((o) => o.mutant.origin)).toEqual([]);
    expect(s.unlocated.map((o) => o.mutant.origin)).toEqual([]);
    expect(s.timeouts.map((o) => o.mutant.origin)).toEqual([]);
    expect(s.memory.map((o) => o.mutant.origin)).toEqual([]);
    expect(s.agree).toBeGreaterThan(mutants.length / 2);
  }, 600_000);
});
