/**
 * The built-in libc model (generator/preprocess/libc.ts) against clang compiling each ABI's real glibc
 * 2.36 headers (Debian 12's libc6-dev-<arch>-cross, under /usr/<triplet>/include): every type it defines
 * as a struct member, every integer macro as a constant (test/fixtures/libc-model.h). ABIs whose glibc is
 * not installed are reported and left out; scripts/setup.sh installs x86_64's, i386's, ppc64's and s390x's.
 *
 * And headers as users have them: UAPI headers of Debian's linux-libc-dev (>= 6.12) that include other
 * UAPI headers, <asm/...> and libc headers, laid out with --include <tree> and compared with clang.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ABIS, abiByName, type Abi } from '../generator/abi/abis.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { layoutJson } from '../generator/layout/json.js';
import { clangLayoutAll } from '../conformance/clang/oracle.js';
import { compareLayouts, formatDisagreements } from '../conformance/clang/compare.js';
import { installedClangs, libcIncludeDirs } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { generatorLayouts } from '../scripts/sweep.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/libc-model.h', import.meta.url));
const haveClang = installedClangs().length > 0;
const maxClang = Math.max(0, ...installedClangs().map((c) => c.major));
if (!haveClang) console.warn('libc model test skipped: no clang (apt-get install clang-14 clang-19)');

async function withGlibc(abis: readonly Abi[]): Promise<{ abis: Abi[]; dirs: Map<string, readonly string[]> }> {
  const dirs = new Map<string, readonly string[]>();
  const have: Abi[] = [];
  for (const abi of abis) {
    if (abi.minClang > maxClang) continue;
    const d = await libcIncludeDirs(abi);
    if (d) { dirs.set(abi.name, d); have.push(abi); }
  }
  const missing = abis.filter((a) => !have.includes(a)).map((a) => a.name);
  if (missing.length) console.warn(`glibc not installed for: ${missing.join(', ')} (apt-get install ${abis.filter((a) => missing.includes(a.name) && a.glibcCross).map((a) => a.glibcCross!.package).join(' ')})`);
  return { abis: have, dirs };
}

describe.skipIf(!haveClang)('the libc model agrees with glibc 2.36 as clang compiles it', () => {
  it('types, records and integer macros on every ABI whose glibc is installed', async () => {
    const includeRoot = await ensureUapiTree();
    const { abis, dirs } = await withGlibc(ABIS);
    expect(abis.length, 'scripts/setup.sh installs glibc for x86_64, i386, ppc64 and s390x').toBeGreaterThanOrEqual(4);
    const clang = await clangLayoutAll([FIXTURE], abis, { includeRoot, systemIncludeDirs: (a) => dirs.get(a.name) ?? [] });
    const irs = parseHeaderForAbis(FIXTURE, abis);
    const problems: string[] = [];
    let checks = 0;
    for (const [i, abi] of abis.entries()) {
      const expected = clang[i]!;
      const diff = compareLayouts(expected, layoutJson(irs.get(abi.name)!, abi, expected.header));
      if (diff.length) problems.push(formatDisagreements(diff));
      checks += Object.keys(expected.constants).length + Object.values(expected.records).reduce((k, r) => k + 2 + Object.keys(r.fields).length, 0);
    }
    console.log(`libc model: ${abis.length} ABIs (${abis.map((a) => a.name).join(', ')}), ${checks} checks, ${problems.length} ABIs disagree`);
    expect(Object.keys(clang[0]!.records)).toEqual(['struct libc_model_scalars', 'struct libc_model_records']);
    expect(Object.keys(clang[0]!.constants).length).toBeGreaterThan(60);
    expect(problems.join('\n')).toBe('');
  }, 600_000);
});

/** Kernel interfaces Node users drive, each reaching <asm/...>, other UAPI headers and (some) libc headers. */
const USER_HEADERS = ['linux/input.h', 'linux/videodev2.h', 'sound/asound.h', 'drm/drm.h', 'linux/io_uring.h', 'linux/usbdevice_fs.h', 'linux/gpio.h', 'linux/spi/spidev.h', 'linux/kvm.h', 'linux/perf_event.h'];

describe.skipIf(!haveClang)('headers as users have them: --include a kernel include tree', () => {
  it(`${USER_HEADERS.join(', ')} on x86_64, i386, ppc64, s390x agree with clang and glibc`, async () => {
    const includeRoot = await ensureUapiTree();
    const { abis, dirs } = await withGlibc(['x86_64', 'i386', 'ppc64', 's390x'].map(abiByName));
    expect(abis.length).toBeGreaterThan(0);
    const files = USER_HEADERS.map((h) => `${includeRoot}/${h}`);
    const clang = await clangLayoutAll(files, abis, { includeRoot, systemIncludeDirs: (a) => dirs.get(a.name) ?? [] });
    const problems: string[] = [];
    let checks = 0;
    for (const [i, name] of USER_HEADERS.entries()) {
      const ours = generatorLayouts({ dir: '', name, file: files[i]!, abis }, includeRoot);
      for (const [j, abi] of abis.entries()) {
        const expected = clang[i * abis.length + j]!;
        const mine = ours.get(abi.name)!;
        if ('error' in mine) { problems.push(`${name} (${abi.name}): generator rejects it: ${mine.error}`); continue; }
        const diff = compareLayouts({ ...expected, header: name }, mine.ok);
        if (diff.length) problems.push(`${name}:\n${formatDisagreements(diff)}`);
        checks += Object.keys(expected.constants).length + Object.values(expected.records).reduce((k, r) => k + 2 + Object.keys(r.fields).length, 0);
      }
    }
    console.log(`--include tree: ${USER_HEADERS.length} headers x ${abis.length} ABIs, ${checks} checks, ${problems.length} problems`);
    expect(problems.join('\n')).toBe('');
    expect(checks).toBeGreaterThan(1000);
  }, 900_000);
});
