/**
 * `vfio-uapi verify`: the committed bindings pass on every ABI, and altered
 * bindings fail with exactly the mismatches the alterations cause.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBindings, type Mismatch, type VerifyResult } from '../conformance/verify/index.js';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { verifyCommand } from '../bin/commands/verify.js';
import { CORPUS, HAVE_CORPUS } from './helpers.js';

const ROOT = join(import.meta.dirname, '..');
const DIST_VFIO = join(ROOT, 'packages', 'vfio-uapi', 'dist', 'generated', 'vfio');
const haveClang = installedClangs().some((c) => c.major >= 19);
const haveDist = existsSync(join(DIST_VFIO, 'abi', 'i386.js'));

if (!HAVE_CORPUS) console.warn(`verify test skipped: no header corpus at ${CORPUS}`);
if (!haveClang) console.warn('verify test skipped: needs clang-14 and clang-19 (apt-get install clang-14 clang-19)');
if (!haveDist) console.warn('verify test: the failure test needs dist/ (npx tsc -p .)');

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Replaces exactly one occurrence of `from` in `file`. */
function replaceOnce(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, 'utf8');
  const hits = typeof from === 'string' ? text.split(from).length - 1 : [...text.matchAll(new RegExp(from, 'g'))].length;
  expect(hits, `${from} in ${file}`).toBe(1);
  writeFileSync(file, text.replace(from, to));
}

/** The ABIs whose abi/<abi>.js re-exports `../<kind>/<module>.js`. */
function abisUsing(dir: string, kind: 'constants' | 'codecs', module: string): string[] {
  return readdirSync(join(dir, 'abi'))
    .filter((f) => f.endsWith('.js'))
    .filter((f) => readFileSync(join(dir, 'abi', f), 'utf8').includes(`from '../${kind}/${module}.js'`))
    .map((f) => f.replace(/\.js$/, ''));
}

describe.skipIf(!HAVE_CORPUS || !haveClang)('vfio-uapi verify', () => {
  it('passes on the committed bindings of vfio.h, iommufd.h, vfio_zdev.h and vfio_ccw.h, on every ABI', async () => {
    const progress: string[] = [];
    const t0 = performance.now();
    const r: VerifyResult = await verifyBindings({ abis: 'all', log: (l) => progress.push(l) });
    const seconds = (performance.now() - t0) / 1000;
    for (const a of r.abis) {
      console.log(`verify ${a.abi}: ${a.checks} checks (${a.headers.map((h) => `${h.header} ${h.checks}: ${h.constants} constants, ${h.ioctls} ioctls, ${h.records} records`).join('; ')}), ${a.failed} failed`);
    }
    console.log(`verify --abi all: ${r.checks} checks, ${r.failed} failed, ${seconds.toFixed(1)} s`);
    expect(r.mismatches.map((m) => m.message)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.bindings.map((b) => b.header)).toEqual(['vfio.h', 'iommufd.h', 'vfio_zdev.h', 'vfio_ccw.h']);
    expect(r.abis).toHaveLength(13);
    for (const a of r.abis) {
      expect(a.checks).toBeGreaterThan(1000);
      expect(a.headers.map((h) => h.header)).toEqual(['vfio.h', 'iommufd.h', 'vfio_zdev.h', 'vfio_ccw.h']);
    }
    expect(progress.filter((l) => /^verify: \[\d+\/13\] /.test(l))).toHaveLength(13);
    expect(seconds).toBeLessThan(180);
  }, 300_000);

  it.skipIf(!haveDist)('reports exactly the mismatches of an altered field offset, constant and ioctl number, and exits 1', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-verify-test-'));
    temps.push(tmp);
    const dir = join(tmp, 'vfio');
    cpSync(DIST_VFIO, dir, { recursive: true });

    // 1. struct vfio_iommu_type1_info_cap_migration.pgsize_bitmap on i386 (a record i386 lays out on its own: __u64 aligned to 4):
    //    offset 12 -> 16 in the metadata and in the decoder (not the encoder).
    const codecs = join(dir, 'codecs', 'i386.js');
    replaceOnce(codecs, '{ path: "pgsize_bitmap", offset: 12, size: 8, type: "__u64", signed: false }', '{ path: "pgsize_bitmap", offset: 16, size: 8, type: "__u64", signed: false }');
    replaceOnce(codecs, 'pgsize_bitmap: v.getBigUint64(12, le),', 'pgsize_bitmap: v.getBigUint64(16, le),');
    // 2. A constant the same on every ABI (the shared constants module).
    replaceOnce(join(dir, 'constants.js'), 'export const VFIO_TYPE1_IOMMU = 1;', 'export const VFIO_TYPE1_IOMMU = 99;');
    // 3. An ioctl number (the constants module of ppc64le, ppc64, ppc, mips64el, mips, sparc64).
    replaceOnce(join(dir, 'constants', 'ppc64le.js'), 'export const VFIO_DEVICE_GET_INFO = 536886123;', 'export const VFIO_DEVICE_GET_INFO = 536886124;');

    expect(abisUsing(dir, 'codecs', 'i386')).toEqual(['i386']);
    const constantAbis = readdirSync(join(dir, 'abi')).filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, ''));
    const ioctlAbis = abisUsing(dir, 'constants', 'ppc64le');
    expect(constantAbis).toHaveLength(13);
    expect(ioctlAbis.sort()).toEqual(['mips', 'mips64el', 'ppc', 'ppc64', 'ppc64le', 'sparc64']);

    const r = await verifyBindings({ bindings: [dir], abis: 'all' });
    expect(r.bindings[0]?.loaded).toBe('copied');
    const got = (kind: Mismatch['kind']) => r.mismatches.filter((m) => m.kind === kind);
    console.log(`verify of altered bindings: ${r.failed} mismatch(es) in ${r.checks} checks:\n${r.mismatches.map((m) => `  ${m.message}`).join('\n')}`);

    // The field offset: the layout check, and the round trip the decoder change breaks (nothing else).
    expect(got('offset').map((m) => m.message)).toEqual(['struct vfio_iommu_type1_info_cap_migration.pgsize_bitmap: bindings say offset 16, clang says 12 (i386)']);
    const decode = got('decode');
    expect(decode).toHaveLength(1);
    expect(decode[0]).toMatchObject({ abi: 'i386', subject: 'struct vfio_iommu_type1_info_cap_migration.pgsize_bitmap' });
    // It read 4 bytes too far: the low half of what it decoded is the high half of what C wrote.
    const [, gave, wrote] = /decode gives 0x([0-9a-f]{16}), C wrote 0x([0-9a-f]{16}) \(i386\)$/.exec(decode[0]!.message)!;
    expect(gave!.slice(8)).toBe(wrote!.slice(0, 8));
    const encode = got('encode');
    expect(encode.map((m) => [m.abi, m.subject])).toEqual([['i386', 'struct vfio_iommu_type1_info_cap_migration'], ['i386', 'struct vfio_iommu_type1_info_cap_migration']]);
    // The encoder writes the (wrongly) decoded value at the right offset: bytes 12..19 differ from C's.
    expect(encode[0]!.message).toMatch(/^struct vfio_iommu_type1_info_cap_migration: encode\(decode\(C bytes\)\) differs from C's bytes: bytes 12\.\.19: .* \(i386\)$/);
    expect(encode[1]!.message).toMatch(/^struct vfio_iommu_type1_info_cap_migration: encodeInto\(decode\(C bytes\)\) .*bytes 12\.\.19: /);

    // The constant, on every ABI of its module; the ioctl number, on every ABI of its module.
    expect(got('constant').map((m) => m.message).sort()).toEqual(constantAbis.map((a) => `VFIO_TYPE1_IOMMU: bindings say 99, clang says 1 (${a})`).sort());
    expect(got('ioctl').map((m) => m.message).sort()).toEqual(ioctlAbis.map((a) => `ioctl VFIO_DEVICE_GET_INFO: bindings say 0x${(536886124).toString(16)}, clang says 0x${(536886123).toString(16)} (${a})`).sort());

    // And nothing else.
    expect(r.failed).toBe(1 + 1 + 2 + constantAbis.length + ioctlAbis.length);
    expect(Object.keys(r.byKind).sort()).toEqual(['constant', 'decode', 'encode', 'ioctl', 'offset']);
    expect(r.ok).toBe(false);

    // The command: a table on stdout, the report file, exit code 1.
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    const report = join(tmp, 'report.md');
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stderr.write;
    const saved = process.exitCode;
    try {
      await verifyCommand({ bindings: [dir], abi: 'i386,x86_64', report });
      expect(process.exitCode).toBe(1);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
      process.exitCode = saved;
    }
    const text = out.join('');
    expect(text).toContain('struct vfio_iommu_type1_info_cap_migration.pgsize_bitmap: bindings say offset 16, clang says 12 (i386)');
    expect(text).toMatch(/^i386 +\d+ +\d+ +5 /m);
    expect(text).toMatch(/^x86_64 +\d+ +\d+ +1 /m);
    const md = readFileSync(report, 'utf8');
    expect(md).toContain('**6 mismatch(es)**');
    expect(md).toContain("| i386 | vfio.h | offset | `struct vfio_iommu_type1_info_cap_migration.pgsize_bitmap` | 16 | 12 |");
  }, 300_000);

  it.skipIf(!haveDist)('checks bit-fields, unions with anonymous members, nested records, signed and pointer fields, short and long byte arrays of a generated header (TypeScript bindings, transpiled)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-verify-test-'));
    temps.push(tmp);
    const header = join(tmp, 'vut.h');
    writeFileSync(header, `#ifndef _VUT_H
#define _VUT_H
#include <linux/types.h>
#include <linux/ioctl.h>
#define VUT_MAGIC 0x42
#define VUT_NEG (1 << 31)
#define VUT_BIG 0xffffffffffffULL
struct vut_inner { __u16 a; __s8 b; };
struct vut_bits {
	__u32 lo:3, mid:9;
	__s32 sgn:5;
	__u8 byte;
	__u64 wide:40;
	__u16 tail;
};
struct vut_mix {
	__s16 s16;
	union { __u16 u16; struct { __u8 x, y; }; __u32 big; };
	struct vut_inner in;
	__s64 s64[2];
	__u8 raw[3];
	void *ptr;
	long l;
	__u32 flex[];
};
union vut_u { __u64 q; __u8 b[8]; struct vut_inner i; };
struct vut_bytes { __u8 small[16]; __s8 ssmall[4]; __u8 big[100]; __s8 sbig[70]; __u16 after; };
#define VUT_IOC _IOWR(VUT_MAGIC, 1, struct vut_mix)
#endif
`);
    execFileSync(process.execPath, [join(ROOT, 'dist', 'bin', 'vfio-uapi.js'), 'generate', '--header', header, '--out', join(tmp, 'out'), '--header-version', '0.1'], { stdio: 'pipe' });
    const dir = join(tmp, 'out', 'vut');
    expect(readFileSync(join(dir, 'codecs', 'x86_64.ts'), 'utf8')).toContain('bitWidth: 40');

    const r = await verifyBindings({ bindings: [dir], header });
    expect(r.bindings[0]).toMatchObject({ header: 'vut.h', version: '0.1', loaded: 'transpiled' });
    console.log(`verify of a generated test header: ${r.abis.length} ABIs, ${r.checks} checks, ${r.failed} failed`);
    expect(r.mismatches.map((m) => m.message)).toEqual([]);
    expect(r.abis).toHaveLength(13);
    for (const a of r.abis) expect(a.checks).toBeGreaterThan(100);
  }, 300_000);
});
