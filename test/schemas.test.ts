/**
 * The `--json` outputs of layout, diff, verify and conformance against their
 * JSON Schema files (schemas/), each carrying its schema version.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from './json-schema.js';
import { writeHeaders } from './helpers.js';
import { toJson } from '../conformance/suite/report.js';
import type { KernelRun } from '../conformance/suite/host.js';
import { installedClangs } from '../conformance/clang/toolchain.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'bin', 'vfio-uapi.js');
const schema = (name: string) => JSON.parse(readFileSync(join(root, 'schemas', `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

describe.skipIf(!existsSync(cli))('--json shapes and their schemas', () => {
  const header = writeHeaders({
    'shapes.h': 'struct s { __u32 a; __u32 :3; __u32 b:5; union { __u16 c; __u8 d[2]; }; __u64 big[2]; };\n#define K (1 << 31)\n#define H 0xffffffffffffffffULL\nenum { E1 = 3 };\n',
  });

  it('the validator finds violations (so a pass means something)', () => {
    expect(validate(schema('layout'), { schema_version: 2, header: 'h', abi: 'x86_64', constants: { K: 1.5 }, records: { 'struct s': { size: 4, align: 4, fields: { a: -1 } } } }).length).toBeGreaterThanOrEqual(2);
    expect(validate(schema('diff'), { schema_version: 1, old: 'a', new: 'b', changes: [{ kind: 'moved' }] }).length).toBeGreaterThan(0);
    expect(validate(schema('conformance'), { schema_version: 1, kernels: [{ kernel: '6.1', suite: 'bookworm', wall_s: 1, ioctls: { VFIO_X: { verdict: 'maybe', detail: '' } } }] })).toHaveLength(1);
  });

  it('layout --json', () => {
    const r = run('layout', '--header', header, '--abi', 'ppc64', '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(2);
    expect(validate(schema('layout'), doc)).toEqual([]);
    expect(doc.records['struct s'].fields.b).toMatchObject({ bit_width: 5 });
  });

  it('diff --json', () => {
    const other = writeHeaders({ 'shapes.h': 'struct s { __u32 a; __u64 big[3]; };\n#define K 2\n' });
    const r = run('diff', header, other, '--json', '--abi', 'x86_64,i386');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(1);
    expect(doc.changes.length).toBeGreaterThan(0);
    expect(validate(schema('diff'), doc)).toEqual([]);
  });

  it.skipIf(installedClangs().length === 0)('verify --json (x86_64, the committed bindings of the four headers)', () => {
    const r = run('verify', '--abi', 'x86_64', '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.schema_version).toBe(1);
    expect(doc.bindings.length).toBe(4);
    expect(validate(schema('verify'), doc)).toEqual([]);
  }, 300_000);

  it('conformance --json: Debian and custom kernels, an arch, VFIO and IOMMUFD ioctls', () => {
    const fake = (suite: string, ioctls: Record<string, { verdict: 'pass' | 'refused' | 'n/a' | 'fail'; detail: string }>) =>
      ({ arch: 'x86_64', kernel: '6.1.0-28-amd64', suite, wallMs: 12345, result: { ioctls } }) as unknown as KernelRun;
    const doc = toJson([
      fake('bookworm', { VFIO_GET_API_VERSION: { verdict: 'pass', detail: 'returned 0' }, VFIO_DEVICE_GET_INFO: { verdict: 'n/a', detail: 'no such device' } }),
      fake('custom', { IOMMU_IOAS_ALLOC: { verdict: 'refused', detail: 'EOPNOTSUPP' } }),
    ]);
    expect(validate(schema('conformance'), doc)).toEqual([]);
    expect(doc.kernels.map((k) => k.arch)).toEqual(['x86_64', 'x86_64']);
    const withArch = { ...doc, kernels: doc.kernels.map((k) => ({ ...k, arch: 'ppc64le' })) };
    expect(validate(schema('conformance'), withArch)).toEqual([]);
  });
});
