/**
 * `vfio-uapi update` without the network: the download is replaced by a header
 * tree written here, the corpus and cache by temp dirs. Regenerates into a temp
 * output, diffs against the committed header, and touches nothing on failure.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { generateBindings, writeFileSet } from '../generator/pipeline/generate.js';
import { HeaderError } from '../generator/errors.js';
import { compareHeaderVersions, findCommittedHeader, readProvenance, updateCommand, updateFromTree, type HeaderTree } from '../bin/commands/update.js';
import { CliError, EXIT } from '../bin/commands/common.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vfio-uapi-update-'));
  dirs.push(d);
  return d;
}

const VFIO_V1 = `
#include <linux/types.h>
#include <linux/ioctl.h>
#define VFIO_TYPE (';')
#define VFIO_BASE 100
struct vfio_thing_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_THING_FLAG_A (1 << 0)
	__u32 count;
};
#define VFIO_THING_GET_INFO _IO(VFIO_TYPE, VFIO_BASE + 1)
#define VFIO_THING_LIMIT 4
`;
const VFIO_V2 = VFIO_V1
  .replace('\t__u32 count;\n', '\t__u32 count;\n\t__u32 pad;\n')
  .replace('#define VFIO_THING_LIMIT 4', '#define VFIO_THING_LIMIT 8\n#define VFIO_THING_FEATURE_NEW 3');
const IOMMUFD_V1 = `
#include <linux/types.h>
#include <linux/ioctl.h>
#define IOMMUFD_TYPE (';')
struct iommu_thing {
	__u32 size;
	__u32 id;
};
#define IOMMU_THING _IO(IOMMUFD_TYPE, 0x80)
`;
const IOMMUFD_V2 = `${IOMMUFD_V1}#define IOMMU_OTHER _IO(IOMMUFD_TYPE, 0x81)\n`;

/** A header tree like linux-libc-dev's: `<root>/usr/include/linux/*.h`. */
function tree(version: string, headers: Record<string, string>): HeaderTree {
  const include = join(tempDir(), 'usr', 'include');
  mkdirSync(join(include, 'linux'), { recursive: true });
  for (const [name, text] of Object.entries(headers)) writeFileSync(join(include, 'linux', name), text);
  return { include, version };
}

/** A corpus `<dir>/<version>/*.h` and an output dir holding bindings "committed" from it. */
function committed(version: string, headers: Record<string, string>): { corpus: string; out: string } {
  const corpus = tempDir();
  mkdirSync(join(corpus, version));
  for (const [name, text] of Object.entries(headers)) writeFileSync(join(corpus, version, name), text);
  const out = join(tempDir(), 'generated');
  for (const name of Object.keys(headers)) {
    const module = name.replace(/\.h$/, '');
    writeFileSet(join(out, module), generateBindings({ header: join(corpus, version, name), out, name: module }));
  }
  return { corpus, out };
}

/** Every file under `dir` with its text. */
function snapshotDir(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => readdirSync(d).forEach((f) => {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else files[relative(dir, p)] = readFileSync(p, 'utf8');
  });
  walk(dir);
  return files;
}

const V1 = { 'vfio.h': VFIO_V1, 'iommufd.h': IOMMUFD_V1 };
const V2 = { 'vfio.h': VFIO_V2, 'iommufd.h': IOMMUFD_V2 };

describe('update (no network)', () => {
  it('regenerates both modules with the package version and diffs against the committed header', () => {
    const { corpus, out } = committed('1.0', V1);
    expect(readProvenance(join(out, 'vfio'))).toMatchObject({ header: 'vfio.h', version: '1.0' });
    const t = tree('2.0-1', V2);
    const report = updateFromTree({ tree: t, out, corpora: [corpus], cacheDir: tempDir() });

    const [vfio, iommufd] = report.modules;
    expect(vfio!.oldHeader).toBe(join(corpus, '1.0', 'vfio.h'));
    expect(vfio!.written).toBe(true);
    const changes = vfio!.diff!.changes.map((c) => `${c.kind} ${c.what} ${c.name} ${c.severity}`);
    expect(changes).toEqual([
      'changed record vfio_thing_info compatible',
      'added field vfio_thing_info.pad compatible',
      'added constant VFIO_THING_FEATURE_NEW compatible',
      'changed constant VFIO_THING_LIMIT breaking',
    ]);
    expect(iommufd!.diff!.changes.map((c) => `${c.kind} ${c.what} ${c.name}`)).toEqual(['added ioctl IOMMU_OTHER']);

    // The tree now holds exactly what the new headers generate, labelled with the package version.
    for (const module of ['vfio', 'iommufd']) {
      expect(readProvenance(join(out, module))).toMatchObject({ version: '2.0-1' });
      const expected = generateBindings({ header: join(t.include, 'linux', `${module}.h`), out, name: module, version: '2.0-1' });
      expect(snapshotDir(join(out, module))).toEqual(Object.fromEntries(expected));
    }
  });

  it('a failure while writing the second module restores the first: nothing touched', () => {
    const { corpus, out } = committed('1.0', V1);
    const before = snapshotDir(out);
    const write = vi.fn((dir: string, files: Map<string, string>) => {
      if (dir.endsWith('iommufd')) throw new Error('disk full');
      writeFileSet(dir, files);
    });
    expect(() => updateFromTree({ tree: tree('2.0-1', V2), out, corpora: [corpus], cacheDir: tempDir(), write })).toThrow('disk full');
    expect(write).toHaveBeenCalledTimes(2);
    expect(snapshotDir(out)).toEqual(before);
  });

  it('a header that does not parse, or is missing: nothing is written', () => {
    const { corpus, out } = committed('1.0', V1);
    const before = snapshotDir(out);
    const write = vi.fn(writeFileSet);
    const broken = tree('2.0-1', { 'vfio.h': VFIO_V2, 'iommufd.h': 'struct iommu_thing {\n\t__u32 size\n};\n' });
    expect(() => updateFromTree({ tree: broken, out, corpora: [corpus], cacheDir: tempDir(), write })).toThrow(HeaderError);
    expect(() => updateFromTree({ tree: tree('2.0-1', { 'vfio.h': VFIO_V2 }), out, corpora: [corpus], cacheDir: tempDir(), write }))
      .toThrow(/linux-libc-dev 2\.0-1 has no linux\/iommufd\.h: nothing was changed/);
    expect(write).not.toHaveBeenCalled();
    expect(snapshotDir(out)).toEqual(before);
  });

  it('when the committed header cannot be found it says so and compares only the generated files', () => {
    const { out } = committed('1.0', V1);
    const report = updateFromTree({ tree: tree('2.0-1', V2), out, corpora: [tempDir()], cacheDir: tempDir() });
    expect(report.modules[0]!.diff).toBeUndefined();
    expect(report.modules[0]!.note).toMatch(/committed header \(vfio\.h 1\.0, sha256 [0-9a-f]{64}\) was not found/);
    expect(report.modules[0]!.contentChanged.length).toBeGreaterThan(0);
    expect(readProvenance(join(out, 'vfio'))).toMatchObject({ version: '2.0-1' });
  });

  it('finds the committed header in the cache by package version, and only with a matching sha256', () => {
    const cacheDir = tempDir();
    const linux = join(cacheDir, 'linux-libc-dev.d', '1.0-3', 'usr', 'include', 'linux');
    mkdirSync(linux, { recursive: true });
    writeFileSync(join(linux, 'vfio.h'), VFIO_V1);
    const { out } = committed('1.0', V1);
    const p = { ...readProvenance(join(out, 'vfio'))!, version: '1.0-3' };
    expect(findCommittedHeader(p, [], cacheDir).path).toBe(join(linux, 'vfio.h'));
    expect(findCommittedHeader({ ...p, sha256: '0'.repeat(64) }, [], cacheDir).path).toBeUndefined();
  });

  it('the same header under a new package version: left as it is', () => {
    const { corpus, out } = committed('1.0', V1);
    const before = snapshotDir(out);
    const report = updateFromTree({ tree: tree('1.0-1', V1), out, corpora: [corpus], cacheDir: tempDir() });
    expect(report.modules.map((m) => [m.written, m.diff?.changes.length, m.provenanceOnly > 0])).toEqual([[false, 0, true], [false, 0, true]]);
    expect(snapshotDir(out)).toEqual(before);
  });

  it('refuses to move the committed bindings to an older header version unless told', () => {
    const { corpus, out } = committed('7.2.13', V2);
    const before = snapshotDir(out);
    const write = vi.fn(writeFileSet);
    const older = tree('6.12.117-1~bpo12+1', V1);
    expect(() => updateFromTree({ tree: older, out, corpora: [corpus], cacheDir: tempDir(), write }))
      .toThrow(/refusing to replace .*vfio \(from vfio\.h 7\.2\.13\) with the older 6\.12\.117-1~bpo12\+1: pass --allow-downgrade/);
    expect(write).not.toHaveBeenCalled();
    expect(snapshotDir(out)).toEqual(before);
    const report = updateFromTree({ tree: older, out, corpora: [corpus], cacheDir: tempDir(), write, allowDowngrade: true });
    expect(report.modules.every((m) => m.written)).toBe(true);
    expect(readProvenance(join(out, 'vfio'))).toMatchObject({ version: '6.12.117-1~bpo12+1' });
  });

  it('compares header versions numerically by their upstream part', () => {
    expect(compareHeaderVersions('6.12.117-1~bpo12+1', '7.2.13')).toBeLessThan(0);
    expect(compareHeaderVersions('7.2.13-1', '7.2.13')).toBe(0);
    expect(compareHeaderVersions('1:6.1.10-1', '6.1.9')).toBeGreaterThan(0);
    expect(compareHeaderVersions('unknown', '6.1')).toBeUndefined();
  });

  it('an unknown suite: one line and the usage exit code, no stack trace', async () => {
    const fetchTree = async () => { throw new Error("fetching linux-libc-dev failed: `apt-get ... update`: E: The repository 'http://deb.debian.org/debian nosuchsuite Release' does not have a Release file.\n    at run (x.js:1:1)"); };
    const err = await updateCommand({ suite: 'nosuchsuite', out: tempDir() }, { fetchTree }).catch((e: unknown) => e as CliError);
    expect(err).toBeInstanceOf(CliError);
    expect(err!.exitCode).toBe(EXIT.USAGE);
    expect(err!.message).not.toMatch(/\n/);
    expect(err!.message).toMatch(/suite 'nosuchsuite'.*does not have a Release file/);
  });

  // The real CLI and apt (Debian's mirror answers that the suite has no Release file): one line, exit 3, and the
  // private apt directory it made for the suite is gone; the cache's other contents are left.
  it.skipIf(!existsSync(CLI) || !existsSync('/usr/bin/apt-get'))('update --suite nosuchsuite: one line, exit 3, no apt directory left behind', () => {
    const cache = tempDir();
    mkdirSync(join(cache, 'apt', 'trixie'), { recursive: true });
    writeFileSync(join(cache, 'apt', 'trixie', 'keep'), '');
    for (const suite of ['nosuchsuite', '../escape']) {
      const r = spawnSync(process.execPath, [CLI, 'update', '--suite', suite, '--out', join(cache, 'out')], { encoding: 'utf8', env: { ...process.env, VFIO_UAPI_CACHE: cache } });
      expect(r.status, r.stderr).toBe(EXIT.USAGE);
      const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('update: '));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^vfio-uapi: cannot get linux-libc-dev from Debian suite '${suite.replace(/\./g, '\\.')}': `));
      expect(lines[0]).not.toMatch(/\bat .*:\d+:\d+\)?$/);
    }
    expect(readdirSync(join(cache, 'apt')).sort()).toEqual(['trixie']);
    expect(readdirSync(join(cache, 'apt', 'trixie'))).toEqual(['keep']);
    expect(readdirSync(cache).filter((f) => f.startsWith('.download-') || f === 'escape')).toEqual([]);
    expect(existsSync(join(cache, 'out'))).toBe(false);
  }, 180_000);

  it('updateCommand: fetches through the injected step and prints the report', async () => {
    const { corpus, out } = committed('1.0', V1);
    const t = tree('2.0-1', V2);
    const fetchTree = vi.fn(async () => t);
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      await updateCommand({ suite: 'sid', out }, { fetchTree, corpora: [corpus], cacheDir: tempDir() });
    } finally {
      spy.mockRestore();
    }
    expect(fetchTree).toHaveBeenCalledWith('sid');
    const text = printed.join('');
    expect(text).toMatch(/== vfio: vfio\.h 1\.0 \(sha256 [0-9a-f]{12}\) -> 2\.0-1/);
    expect(text).toMatch(/vfio\.h 1\.0 -> vfio\.h 2\.0-1: 1 breaking, 3 compatible changes on 13 ABIs/);
    expect(text).toMatch(/review with `git diff -- .*generated` \(nothing was committed\)/);
  });
});
