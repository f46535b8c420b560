/**
 * The oracle test: `layout --json` (our generator) against clang, for every
 * header of ../shared/uapi on every ABI. Clang compiles each header with
 * --target=<triple> -nostdinc against Debian's linux-libc-dev (>= 6.12) include
 * tree; every disagreement is reported, and the expected number is zero.
 */
import { describe, expect, it } from 'vitest';
import { ABIS } from '../generator/abi/abis.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { layoutJson } from '../generator/layout/json.js';
import { clangLayoutAll } from '../conformance/clang/oracle.js';
import { compareLayouts, formatDisagreements } from '../conformance/clang/compare.js';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { CORPUS, HAVE_CORPUS, corpusHeaders } from './helpers.js';

const haveClang = installedClangs().length > 0;
const maxClang = Math.max(0, ...installedClangs().map((c) => c.major));
const abis = ABIS.filter((a) => a.minClang <= maxClang);

if (!HAVE_CORPUS) console.warn(`oracle test skipped: no header corpus at ${CORPUS}`);
if (!haveClang) console.warn('oracle test skipped: no clang (apt-get install clang-14 clang-19)');

describe.skipIf(!HAVE_CORPUS || !haveClang)('generator agrees with clang on every header of the corpus and every ABI', () => {
  it('covers every ABI of the table (loongarch64 needs clang-19)', () => {
    if (abis.length < ABIS.length) console.warn(`ABIs not checked (clang too old): ${ABIS.filter((a) => !abis.includes(a)).map((a) => a.name).join(', ')}`);
    expect(abis.length).toBeGreaterThanOrEqual(12);
  });

  it('zero disagreements: constants, records, sizes, alignments, field offsets', async () => {
    const includeRoot = await ensureUapiTree();
    const headers = corpusHeaders();
    expect(headers.length).toBeGreaterThan(0);
    const started = performance.now();
    const clang = await clangLayoutAll(headers.map((h) => h.path), abis, { includeRoot });
    const clangMs = performance.now() - started;
    let records = 0;
    let fields = 0;
    let constants = 0;
    const problems: string[] = [];
    for (const [i, h] of headers.entries()) {
      const irs = parseHeaderForAbis(h.path, abis);
      for (const [j, abi] of abis.entries()) {
        const expected = clang[i * abis.length + j]!;
        expect(expected.abi).toBe(abi.name);
        const ours = layoutJson(irs.get(abi.name)!, abi, expected.header);
        const diff = compareLayouts(expected, ours);
        if (diff.length > 0) problems.push(`${h.version}/${h.name} on ${abi.name}:\n${formatDisagreements(diff)}`);
        records += Object.keys(expected.records).length;
        fields += Object.values(expected.records).reduce((n, r) => n + Object.keys(r.fields).length, 0);
        constants += Object.keys(expected.constants).length;
      }
    }
    console.log(`oracle: ${headers.length} headers x ${abis.length} ABIs = ${headers.length * abis.length} pairs; `
      + `${records} records, ${fields} fields, ${constants} constants compared; clang ${(clangMs / 1000).toFixed(1)} s; `
      + `${problems.length} pairs disagree`);
    expect(problems.join('\n\n')).toBe('');
    expect(records).toBeGreaterThan(0);
  }, 600_000);
});
