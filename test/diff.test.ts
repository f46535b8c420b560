/**
 * The diff stage: each classification rule on small headers, the known history
 * of the real headers (../shared/uapi), and the CLI's output and exit codes.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAbiList } from '../generator/abi/abis.js';
import { diffHeaderFiles, diffJson, diffMarkdown, diffText, formatDiffJson, nameDistance, type Change, type HeaderDiff } from '../generator/diff/index.js';
import { changelogPairs, renderChangelog } from '../scripts/changelog.js';
import { CORPUS, HAVE_CORPUS, writeHeaders } from './helpers.js';

/** The diff of two headers given as text. */
function diffOf(oldText: string, newText: string, abis = 'all'): HeaderDiff {
  return diffHeaderFiles(writeHeaders({ 'old.h': oldText }), writeHeaders({ 'new.h': newText }), { abis: parseAbiList(abis) });
}

/** The changes about `name` (optionally of one kind/what). */
function about(diff: HeaderDiff, name: string, what?: Change['what']): Change[] {
  return diff.changes.filter((c) => c.name === name && (what === undefined || c.what === what));
}

/** The single change about `name`. */
function one(diff: HeaderDiff, name: string, what?: Change['what']): Change {
  const list = about(diff, name, what);
  expect(list, `${name}: ${JSON.stringify(diff.changes, null, 1)}`).toHaveLength(1);
  return list[0]!;
}

const BASE = `
#include <linux/types.h>
#include <linux/ioctl.h>
#define T_TYPE ';'
#define T_BASE 100
struct t_info {
	__u32 argsz;
	__u32 flags;
#define T_INFO_FLAG_A (1 << 0)
#define T_INFO_FLAG_B (1 << 1)
	__u32 count;
};
struct t_fixed {
	__u32 a;
	__u32 b;
};
#define T_GET_INFO _IO(T_TYPE, T_BASE + 1)
#define T_SET_FIXED _IOW(T_TYPE, T_BASE + 2, struct t_fixed)
#define T_LIMIT 16
`;

describe('diff rules (synthetic headers)', () => {
  it('identical headers: no changes', () => {
    expect(diffOf(BASE, BASE).changes).toEqual([]);
  });

  it('a new ioctl, flag, constant and record are compatible', () => {
    const d = diffOf(BASE, BASE
      .replace('#define T_INFO_FLAG_B (1 << 1)', '#define T_INFO_FLAG_B (1 << 1)\n#define T_INFO_FLAG_C (1 << 2)')
      .concat('#define T_NEW_LIMIT 32\nstruct t_new { __u32 argsz; __u32 x; };\n#define T_NEW _IO(T_TYPE, T_BASE + 3)\n'));
    expect(one(d, 'T_NEW')).toMatchObject({ kind: 'added', what: 'ioctl', severity: 'compatible', abis: ['all'] });
    expect(one(d, 'T_INFO_FLAG_C')).toMatchObject({ kind: 'added', what: 'flag', severity: 'compatible', abis: ['all'] });
    expect(one(d, 'T_INFO_FLAG_C').detail).toMatch(/t_info\.flags = 4/);
    expect(one(d, 'T_NEW_LIMIT')).toMatchObject({ kind: 'added', what: 'constant', severity: 'compatible', detail: 'new macro = 32' });
    expect(one(d, 't_new')).toMatchObject({ kind: 'added', what: 'record', severity: 'compatible' });
    expect(d.changes.every((c) => c.severity === 'compatible')).toBe(true);
  });

  it('a field appended to an argsz-extensible struct is compatible, and so is its growth', () => {
    const d = diffOf(BASE, BASE.replace('\t__u32 count;\n', '\t__u32 count;\n\t__u32 extra;\n'));
    expect(one(d, 't_info.extra')).toMatchObject({ kind: 'added', what: 'field', severity: 'compatible', abis: ['all'] });
    expect(one(d, 't_info.extra').detail).toMatch(/at offset 12 .*appended to an argsz-extensible struct/);
    expect(one(d, 't_info', 'record')).toMatchObject({ kind: 'changed', severity: 'compatible', detail: expect.stringMatching(/^size 12 -> 16: grew at the end/) });
  });

  it('a field inserted before the end of an argsz-extensible struct is breaking', () => {
    const d = diffOf(BASE, BASE.replace('\t__u32 count;\n', '\t__u32 extra;\n\t__u32 count;\n'));
    expect(one(d, 't_info.count')).toMatchObject({ kind: 'changed', severity: 'breaking', detail: 'moved from offset 8 to 12' });
    expect(one(d, 't_info.extra').severity).toBe('breaking');
    expect(one(d, 't_info', 'record').severity).toBe('breaking');
  });

  it('a field appended to a fixed struct is breaking, and changes the _IOW number that encodes its size', () => {
    const d = diffOf(BASE, BASE.replace('\t__u32 b;\n', '\t__u32 b;\n\t__u32 c;\n'));
    expect(one(d, 't_fixed', 'record')).toMatchObject({ severity: 'breaking', detail: 'size 8 -> 12: a fixed struct (no leading argsz) changed size' });
    expect(one(d, 't_fixed.c')).toMatchObject({ kind: 'added', severity: 'breaking' });
    // The size is part of the request number: a header-level ABI checker sees no symbol change here.
    const ioctl = about(d, 'T_SET_FIXED', 'ioctl');
    expect(ioctl.length).toBeGreaterThan(0);
    expect(ioctl.every((c) => c.kind === 'changed' && c.severity === 'breaking')).toBe(true);
    expect(ioctl.find((c) => c.abis.includes('x86_64'))!.detail).toMatch(/^number 0x40083b66 -> 0x400c3b66/);
  });

  it('a moved or resized field of a fixed struct is breaking', () => {
    const moved = diffOf(BASE, BASE.replace('\t__u32 a;\n\t__u32 b;\n', '\t__u32 b;\n\t__u32 a;\n'));
    expect(one(moved, 't_fixed.a')).toMatchObject({ kind: 'changed', severity: 'breaking', detail: 'moved from offset 0 to 4' });
    const resized = diffOf(BASE, BASE.replace('\t__u32 b;\n', '\t__u16 b;\n'));
    expect(one(resized, 't_fixed.b')).toMatchObject({ severity: 'breaking', detail: 'type __u32 -> __u16; size 4 -> 2; alignment 4 -> 2' });
  });

  it('a changed ioctl number is breaking, per ABI where the numbers differ', () => {
    const d = diffOf(BASE, BASE.replace('T_BASE + 1)', 'T_BASE + 9)'));
    const changes = about(d, 'T_GET_INFO');
    expect(changes.map((c) => [c.kind, c.what, c.severity])).toEqual([['changed', 'ioctl', 'breaking'], ['changed', 'ioctl', 'breaking']]);
    // _IOC_NONE is 0 on most ABIs, 1 (in the top bits) on powerpc, mips and sparc.
    expect(changes[0]!.abis).toEqual(['x86_64', 'i386', 'aarch64', 'arm', 's390x', 'riscv64', 'loongarch64']);
    expect(changes[0]!.detail).toMatch(/^number 0x3b65 -> 0x3b6d/);
    expect(changes[1]!.detail).toMatch(/^number 0x20003b65 -> 0x20003b6d/);
  });

  it('a changed flag value is breaking', () => {
    const d = diffOf(BASE, BASE.replace('T_INFO_FLAG_B (1 << 1)', 'T_INFO_FLAG_B (1 << 3)'));
    expect(one(d, 'T_INFO_FLAG_B')).toMatchObject({ kind: 'changed', what: 'flag', severity: 'breaking', abis: ['all'] });
    expect(one(d, 'T_INFO_FLAG_B').detail).toMatch(/^value 2 -> 8/);
  });

  it('a changed constant value is breaking; a changed C type with the same value is not', () => {
    expect(one(diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_LIMIT 17')), 'T_LIMIT')).toMatchObject({ severity: 'breaking', detail: 'value 16 -> 17: old binaries pass the old value' });
    expect(one(diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_LIMIT 16U')), 'T_LIMIT')).toMatchObject({ severity: 'compatible', detail: 'C type int -> unsigned int (same value)' });
  });

  it('removed names are breaking', () => {
    const d = diffOf(BASE, BASE.replace('#define T_LIMIT 16\n', '').replace('#define T_INFO_FLAG_B (1 << 1)\n', ''));
    expect(one(d, 'T_LIMIT')).toMatchObject({ kind: 'removed', what: 'constant', severity: 'breaking', detail: 'removed (was 16)' });
    expect(one(d, 'T_INFO_FLAG_B')).toMatchObject({ kind: 'removed', what: 'flag', severity: 'breaking' });
    const r = diffOf(BASE, BASE.replace(/struct t_fixed \{[^}]*\};/, '').replace(/#define T_SET_FIXED.*\n/, ''));
    expect(one(r, 't_fixed', 'record')).toMatchObject({ kind: 'removed', severity: 'breaking', abis: ['all'], detail: 'struct t_fixed removed' });
    expect(one(r, 'T_SET_FIXED')).toMatchObject({ kind: 'removed', what: 'ioctl', severity: 'breaking', abis: ['all'], detail: 'removed (argument in struct t_fixed)' });
  });

  it('a removed and an added constant with the same value and similar names are one rename (breaking)', () => {
    const d = diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_LIMIT_V1 16'));
    expect(d.changes).toHaveLength(1);
    expect(d.changes[0]).toMatchObject({ kind: 'changed', what: 'constant', name: 'T_LIMIT', severity: 'breaking', abis: ['all'] });
    expect(d.changes[0]!.detail).toMatch(/^renamed T_LIMIT -> T_LIMIT_V1 \(value 16\)/);
    // Not a rename: a different value, or an unrelated name.
    expect(diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_LIMIT_V1 17')).changes.map((c) => c.kind).sort()).toEqual(['added', 'removed']);
    expect(diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_WIDTH 16')).changes.map((c) => c.kind).sort()).toEqual(['added', 'removed']);
  });

  it('a name reused for a new value, its old value under a similar new name: a rename', () => {
    const d = diffOf(`#define S_RUNNING 1\n#define S_STOP 0\n`, `#define S_V1_RUNNING 1\n#define S_V1_STOP 0\nenum s { S_STOP = 1, S_RUNNING = 2 };\n`);
    expect(one(d, 'S_RUNNING').detail).toBe('renamed S_RUNNING -> S_V1_RUNNING (value 1): code using the old name no longer builds, and S_RUNNING now means 2 (enumerator), so code using it builds with another value');
    expect(about(d, 'S_V1_RUNNING')).toEqual([]);
  });

  it('a field renamed in place is breaking', () => {
    const d = diffOf(BASE, BASE.replace('\t__u32 b;\n', '\t__u32 bee;\n'));
    expect(d.changes).toEqual([{ kind: 'changed', what: 'field', name: 't_fixed.b', abis: ['all'], severity: 'breaking', detail: 'renamed t_fixed.b -> t_fixed.bee (same place and type): code using the old name no longer builds' }]);
  });

  it('__u64 -> __aligned_u64: an alignment change on i386 only', () => {
    const old = 'struct r { __u32 argsz; __u32 flags; __u64 size; };\n';
    const d = diffOf(old, old.replace('__u64 size', '__aligned_u64 size'));
    expect(one(d, 'r', 'record')).toMatchObject({ kind: 'changed', severity: 'breaking', abis: ['i386'], detail: expect.stringMatching(/alignment 4 -> 8/) });
    const field = about(d, 'r.size', 'field');
    expect(field.find((c) => c.severity === 'breaking')!.abis).toEqual(['i386']);
    const others = field.find((c) => c.severity === 'compatible')!;
    expect(others.abis).toHaveLength(12);
    expect(others.detail).toBe('type __u64 -> __aligned_u64 (same representation here)');
  });

  it('the same change on every selected ABI collapses to ["all"]', () => {
    const old = 'struct r { __u32 argsz; __u32 flags; __u64 size; };\n';
    const d = diffOf(old, old.replace('__u64 size', '__aligned_u64 size'), 'x86_64,aarch64');
    expect(d.abis).toEqual(['x86_64', 'aarch64']);
    expect(d.changes).toEqual([{ kind: 'changed', what: 'field', name: 'r.size', abis: ['all'], severity: 'compatible', detail: 'type __u64 -> __aligned_u64 (same representation here)' }]);
  });

  it('a field placed in padding or as a union alternative keeps the layout: compatible', () => {
    const old = 'struct u { __u32 a; union { __u32 group_id; }; __u8 b; };\n';
    const d = diffOf(old, 'struct u { __u32 a; union { __u32 group_id; __u32 devid; }; __u8 b; __u8 c; };\n');
    expect(one(d, 'u.devid')).toMatchObject({ kind: 'added', severity: 'compatible' });
    expect(one(d, 'u.c')).toMatchObject({ kind: 'added', severity: 'compatible', detail: expect.stringMatching(/at offset 9 .*layout is unchanged/) });
  });

  it('orders changes deterministically: records with their fields, then ioctls, flags, constants', () => {
    const newer = BASE.replace('\t__u32 count;\n', '\t__u32 count;\n\t__u32 extra;\n').replace('T_LIMIT 16', 'T_LIMIT 17')
      .concat('#define T_NEW _IO(T_TYPE, T_BASE + 3)\n#define T_A 1\n');
    const d = diffOf(BASE, newer);
    expect(d.changes.map((c) => `${c.what} ${c.name}`)).toEqual(['record t_info', 'field t_info.extra', 'ioctl T_NEW', 'constant T_A', 'constant T_LIMIT']);
    expect(diffOf(BASE, newer)).toEqual(d);
  });

  it('name similarity', () => {
    expect(nameDistance('VFIO_DEVICE_STATE_RUNNING', 'VFIO_DEVICE_STATE_V1_RUNNING')).toBe(1);
    expect(nameDistance('VFIO_REGION_TYPE_MIGRATION', 'VFIO_REGION_TYPE_MIGRATION_DEPRECATED')).toBe(1);
    expect(nameDistance('VFIO_DEVICE_SATE_SAVING', 'VFIO_DEVICE_STATE_SAVING')).toBe(1);
    expect(nameDistance('VFIO_PCI_BAR0_REGION_INDEX', 'VFIO_DEVICE_FLAGS_RESET')).toBeUndefined();
    expect(nameDistance('IOMMU_A_B', 'VFIO_A_B')).toBeUndefined();
    expect(nameDistance('T_LIMIT', 'T_WIDTH')).toBeUndefined();
    expect(nameDistance('VFIO_TYPE1_NESTING_IOMMU', '__VFIO_RESERVED_TYPE1_NESTING_IOMMU')).toBe(1);
  });

  it('renders text, Markdown and the JSON document', () => {
    const d = diffOf(BASE, BASE.replace('T_LIMIT 16', 'T_LIMIT 17').concat('#define T_A 1\n'));
    const text = diffText(d, 'old.h', 'new.h');
    expect(text).toMatch(/^old\.h -> new\.h: 1 breaking, 1 compatible changes on 13 ABIs\n\nbreaking \(1\):\n  changed +constant +T_LIMIT +\[all ABIs\]\n +value 16 -> 17/);
    expect(text.indexOf('compatible (1):')).toBeGreaterThan(text.indexOf('breaking (1):'));
    const md = diffMarkdown(d, 'old.h', 'new.h');
    expect(md).toContain('### Breaking (1)');
    expect(md).toContain('| changed | constant | `T_LIMIT` | all ABIs | value 16 -> 17: old binaries pass the old value |');
    const json = formatDiffJson(diffJson(d, 'old.h', 'new.h'));
    expect(json).toBe('{"schema_version": 1, "old": "old.h", "new": "new.h", "changes": ['
      + '{"kind": "added", "what": "constant", "name": "T_A", "abis": ["all"], "severity": "compatible", "detail": "new macro = 1"}, '
      + '{"kind": "changed", "what": "constant", "name": "T_LIMIT", "abis": ["all"], "severity": "breaking", "detail": "value 16 -> 17: old binaries pass the old value"}]}');
    expect(JSON.parse(json)).toEqual(diffJson(d, 'old.h', 'new.h'));
  });
});

describe('vfio-uapi diff (CLI)', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'diff', ...args], { encoding: 'utf8' });
  it.skipIf(!existsSync(cli))('--json prints the document and exits 0 on a diff', () => {
    const a = writeHeaders({ 'a.h': '#define K 1\n' });
    const b = writeHeaders({ 'b.h': '#define K 2\n' });
    const r = run(a, b, '--json', '--abi', 'x86_64,i386');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ schema_version: 1, old: a, new: b, changes: [{ kind: 'changed', what: 'constant', name: 'K', abis: ['all'], severity: 'breaking', detail: 'value 1 -> 2: old binaries pass the old value' }] });
    expect(run(a, b).stdout).toMatch(/breaking \(1\):/);
    expect(run(a, b, '--markdown').stdout).toMatch(/^## `.*a\.h` → `.*b\.h`/);
  });
  it.skipIf(!existsSync(cli))('a bad header: exit 3 (bad input) with its location', () => {
    const a = writeHeaders({ 'a.h': '#define K 1\n' });
    const bad = writeHeaders({ 'bad.h': 'struct s {\n\tint a\n};\n' });
    const r = run(a, bad, '--json');
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad\.h:\d+:\d+: error:/);
    expect(run(a, bad.replace('bad.h', 'missing.h')).status).toBe(3);
    expect(run(a, a, '--abi', 'vax').stderr).toMatch(/unknown ABI 'vax'/);
  });
});

// ---- the real headers -----------------------------------------------------------

const VERSIONS = ['5.10.223', '6.1.187', '6.12.117', '7.2.13'];
const corpusPath = (version: string, header: string) => join(CORPUS, version, header);

if (!HAVE_CORPUS) {
  describe('diff over the header corpus', () => {
    it.skip(`skipped: no header corpus at ${CORPUS} (set VFIO_UAPI_CORPUS)`, () => {});
  });
}

describe.runIf(HAVE_CORPUS)('diff over the header corpus', () => {
  const cache = new Map<string, HeaderDiff>();
  const diffPair = (header: string, from: string, to: string) => {
    const key = `${header} ${from} ${to}`;
    if (!cache.has(key)) cache.set(key, diffHeaderFiles(corpusPath(from, header), corpusPath(to, header)));
    return cache.get(key)!;
  };

  for (const header of ['vfio.h', 'iommufd.h', 'vfio_ccw.h', 'vfio_zdev.h']) {
    const present = VERSIONS.filter((v) => existsSync(corpusPath(v, header)));
    for (let i = 1; i < present.length; i++) {
      it(`${header} ${present[i - 1]} -> ${present[i]}: well-formed and deterministic`, () => {
        const d = diffPair(header, present[i - 1]!, present[i]!);
        for (const c of d.changes) {
          expect(['added', 'removed', 'changed']).toContain(c.kind);
          expect(['compatible', 'breaking']).toContain(c.severity);
          expect(c.abis.length).toBeGreaterThan(0);
          if (c.abis[0] === 'all') expect(c.abis).toHaveLength(1);
          expect(c.detail).not.toBe('');
        }
        expect(diffHeaderFiles(corpusPath(present[i - 1]!, header), corpusPath(present[i]!, header))).toEqual(d);
      });
    }
  }

  it('5.10 -> 6.1: the migration v1 names are renamed (breaking)', () => {
    const d = diffPair('vfio.h', '5.10.223', '6.1.187');
    for (const s of ['STOP', 'RUNNING', 'SAVING']) {
      const c = one(d, `VFIO_DEVICE_STATE_${s}`);
      expect(c).toMatchObject({ kind: 'changed', severity: 'breaking', abis: ['all'] });
      expect(c.detail).toMatch(new RegExp(`^renamed VFIO_DEVICE_STATE_${s} -> VFIO_DEVICE_STATE_V1_${s} `));
      expect(about(d, `VFIO_DEVICE_STATE_V1_${s}`)).toEqual([]);
    }
    // RUNNING and STOP were reused by the v2 enum with other values.
    expect(one(d, 'VFIO_DEVICE_STATE_RUNNING').detail).toMatch(/VFIO_DEVICE_STATE_RUNNING now means 2 \(enumerator\)/);
    for (const name of ['VFIO_REGION_TYPE_MIGRATION', 'VFIO_REGION_SUBTYPE_MIGRATION']) {
      expect(one(d, name)).toMatchObject({ kind: 'changed', severity: 'breaking', detail: expect.stringMatching(new RegExp(`^renamed ${name} -> ${name}_DEPRECATED`)) });
    }
    for (const name of ['VFIO_DEVICE_FEATURE_MIGRATION', 'VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE', 'VFIO_DEVICE_FEATURE_DMA_LOGGING_START']) {
      expect(one(d, name)).toMatchObject({ kind: 'added', severity: 'compatible', abis: ['all'] });
    }
  });

  it('6.1 -> 6.12: vfio_device_info grows 20 -> 24 with pad (compatible)', () => {
    const d = diffPair('vfio.h', '6.1.187', '6.12.117');
    expect(one(d, 'vfio_device_info', 'record')).toMatchObject({ kind: 'changed', severity: 'compatible', abis: ['all'], detail: expect.stringMatching(/^size 20 -> 24: grew at the end of an argsz-extensible struct/) });
    expect(one(d, 'vfio_device_info.pad')).toMatchObject({ kind: 'added', what: 'field', severity: 'compatible', abis: ['all'], detail: '__u32 at offset 20 (4 bytes), appended to an argsz-extensible struct' });
  });

  it('6.1 -> 6.12: vfio_region_info moves to __aligned_u64, an alignment change on i386 only', () => {
    const d = diffPair('vfio.h', '6.1.187', '6.12.117');
    expect(one(d, 'vfio_region_info', 'record')).toMatchObject({ kind: 'changed', severity: 'breaking', abis: ['i386'], detail: expect.stringMatching(/^alignment 4 -> 8/) });
    for (const f of ['size', 'offset']) {
      const changes = about(d, `vfio_region_info.${f}`);
      expect(changes.find((c) => c.severity === 'breaking')).toMatchObject({ abis: ['i386'], detail: 'type __u64 -> __aligned_u64; alignment 4 -> 8' });
      expect(changes.find((c) => c.severity === 'compatible')!.abis).not.toContain('i386');
    }
    // Where the alignment changes the size, i386 grows too.
    expect(one(d, 'vfio_iommu_type1_info', 'record')).toMatchObject({ abis: ['i386'], detail: expect.stringMatching(/^size 20 -> 24.*alignment 4 -> 8/) });
  });

  it('6.12 -> 7.2: new VFIO_DEVICE_FEATURE ids are compatible', () => {
    const d = diffPair('vfio.h', '6.12.117', '7.2.13');
    expect(one(d, 'VFIO_DEVICE_FEATURE_DMA_BUF')).toMatchObject({ kind: 'added', what: 'constant', severity: 'compatible', abis: ['all'], detail: 'new macro = 11' });
    expect(one(d, 'vfio_device_feature_dma_buf', 'record')).toMatchObject({ kind: 'added', severity: 'compatible' });
    const precopy = d.changes.filter((c) => c.name.startsWith('VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFO'));
    expect(precopy.map((c) => [c.kind, c.severity])).toEqual([['added', 'compatible']]);
  });

  it('iommufd.h 6.12 -> 7.2: only additions', () => {
    const d = diffPair('iommufd.h', '6.12.117', '7.2.13');
    expect(d.changes.filter((c) => c.severity === 'breaking')).toEqual([]);
    expect(one(d, 'IOMMU_IOAS_MAP_FILE')).toMatchObject({ kind: 'added', what: 'ioctl', detail: 'new ioctl, argument inout struct iommu_ioas_map_file' });
  });

  it('vfio_zdev.h 5.10 -> 6.1: the capability structs grew (fixed structs: breaking)', () => {
    const d = diffPair('vfio_zdev.h', '5.10.223', '6.1.187');
    expect(one(d, 'vfio_device_info_cap_zpci_base.fh')).toMatchObject({ kind: 'added', severity: 'breaking' });
    expect(about(d, 'vfio_device_info_cap_zpci_base', 'record').map((c) => c.abis.join(','))).toEqual(['x86_64,aarch64,arm,ppc64le,ppc64,ppc,s390x,riscv64,mips64el,mips,sparc64,loongarch64', 'i386']);
  });

  it('docs/uapi-changelog.md is what scripts/changelog.ts writes (npm run changelog)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', 'docs', 'uapi-changelog.md'), 'utf8');
    expect(renderChangelog(changelogPairs(CORPUS))).toBe(committed);
  });
});
