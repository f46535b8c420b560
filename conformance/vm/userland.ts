/**
 * Guest userland for architectures other than the host's, from Debian's
 * packages of that architecture, downloaded with a private apt configuration
 * and unpacked (`dpkg-deb -x`) into the cache; nothing is installed:
 *
 * - `busybox-static` for the initramfs;
 * - `nodejs` with the closure of its library dependencies, a root that QEMU
 *   shares with the guest over 9p. The guest runs it through the root's own
 *   dynamic loader with the root's library directories, so the guest's chroot
 *   (the host's root) needs no libraries of that architecture.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Arch } from './arches.js';
import { aptEnv, aptUpdate, showPackage, type PrivateApt } from './kernel.js';
import { cacheRoot, exec, exists, publishDir, writeFileAtomic, type ProgressFn } from './util.js';

/** An unpacked guest root in the cache (nodejs and its libraries, or busybox-static). */
export interface GuestNodeRoot {
  /** Absolute path of the unpacked root. */
  root: string;
  /** The main package's version (Debian's). */
  version: string;
  /** Debian suite it came from. */
  distSuite: string;
  /** Every package unpacked, `name=version`. */
  packages: string[];
  /** Paths relative to the root. */
  node: string;
  loader: string;
  libDirs: string[];
}

/** Packages of the closure that a node process does not need at run time (maintainer tooling, data). */
const SKIP = new Set(['debconf', 'dpkg', 'perl-base', 'tzdata', 'sensible-utils', 'media-types', 'ca-certificates', 'openssl', 'readline-common', 'libc-bin', 'install-info']);

/**
 * Returns the cached node root of `arch` (downloading and unpacking it on first
 * use). Throws if the architecture runs the host's node.
 */
export async function ensureGuestNode(arch: Arch, onProgress?: ProgressFn): Promise<GuestNodeRoot> {
  const node = arch.node;
  if (node.kind !== 'debian') throw new Error(`${arch.name} guests run the host's node`);
  return ensureRoot(arch, node.suite, 'nodejs', { node: 'usr/bin/node', loader: node.dynamicLoader, libDirs: [...node.libDirs] }, true, onProgress);
}

/** The path of a static busybox for `arch` (Debian's `busybox-static` of the node suite, unpacked into the cache). */
export async function ensureForeignBusybox(arch: Arch, onProgress?: ProgressFn): Promise<string> {
  const suite = arch.node.kind === 'debian' ? arch.node.suite : 'trixie';
  const root = await ensureRoot(arch, suite, 'busybox-static', { node: 'bin/busybox', loader: 'bin/busybox', libDirs: [] }, false, onProgress);
  return path.join(root.root, root.node);
}

async function ensureRoot(
  arch: Arch,
  suite: string,
  pkg: string,
  files: { node: string; loader: string; libDirs: string[] },
  withDependencies: boolean,
  onProgress?: ProgressFn,
): Promise<GuestNodeRoot> {
  const progress = onProgress ?? (() => {});
  const base = path.join(cacheRoot(), 'guest-roots');
  const pointer = path.join(base, `${arch.name}-${suite}-${pkg}.json`);
  const cached = await readRoot(base, pointer);
  if (cached) return cached;

  const apt = await aptUpdate(suite, arch, progress);
  const packages = withDependencies ? await dependencyClosure(apt, pkg) : [{ name: pkg, version: (await showPackage(apt, pkg))?.get('version') ?? '' }];
  const main = packages.find((p) => p.name === pkg)!;
  if (!main.version) throw new Error(`${pkg} is not in ${suite} for ${arch.debianArch}`);
  const dirName = `${arch.name}_${pkg}_${main.version}`.replace(/[^A-Za-z0-9.+_-]/g, '_');
  const dir = path.join(base, dirName);
  if (!(await exists(path.join(dir, 'root.json')))) {
    progress(`downloading ${pkg} ${main.version} (${suite} ${arch.debianArch})${packages.length > 1 ? ` and ${packages.length - 1} dependencies` : ''}`);
    await publishDir(dir, async (tmp) => {
      const debs = path.join(tmp, 'debs');
      await fs.mkdir(debs);
      const names = packages.map((p) => `${p.name}=${p.version}`);
      await exec('apt-get', [...apt.options, '-q', 'download', ...names], { cwd: debs, env: aptEnv(), what: `apt-get download ${names.join(' ')}` });
      const root = path.join(tmp, 'root');
      for (const deb of (await fs.readdir(debs)).filter((f) => f.endsWith('.deb'))) {
        await exec('dpkg-deb', ['-x', path.join(debs, deb), root], { what: `dpkg-deb -x ${deb}` });
      }
      await fs.rm(debs, { recursive: true, force: true });
      for (const junk of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/lintian']) {
        await fs.rm(path.join(root, junk), { recursive: true, force: true });
      }
      // Merged /usr: Debian's base-files creates the /lib -> usr/lib links at install time, not in the .debs.
      for (const link of ['lib', 'lib64', 'bin', 'sbin']) {
        if (!(await exists(path.join(root, link))) && (await exists(path.join(root, 'usr', link)))) await fs.symlink(`usr/${link}`, path.join(root, link));
      }
      const record = { version: main.version, distSuite: suite, packages: names, ...files };
      for (const p of [record.node, record.loader]) {
        if (!(await exists(path.join(root, p)))) throw new Error(`the unpacked ${pkg} root of ${arch.name} has no ${p}`);
      }
      await fs.writeFile(path.join(tmp, 'root.json'), JSON.stringify(record, null, 2) + '\n');
    });
  }
  await writeFileAtomic(pointer, JSON.stringify({ dir: dirName }) + '\n');
  const root = await readRoot(base, pointer);
  if (!root) throw new Error(`the ${pkg} root of ${arch.name} was unpacked into ${dir} but cannot be read back`);
  return root;
}

async function readRoot(base: string, pointer: string): Promise<GuestNodeRoot | undefined> {
  try {
    const { dir } = JSON.parse(await fs.readFile(pointer, 'utf8')) as { dir: string };
    const rec = JSON.parse(await fs.readFile(path.join(base, dir, 'root.json'), 'utf8')) as Omit<GuestNodeRoot, 'root'>;
    const root = path.join(base, dir, 'root');
    if (!(await exists(path.join(root, rec.node)))) return undefined;
    return { ...rec, root };
  } catch {
    return undefined;
  }
}

/**
 * `name` and its `Depends`/`Pre-Depends`, transitively, as apt resolves them
 * (one `apt-cache depends --recurse`; virtual packages left out, their
 * providers listed), minus {@link SKIP}; with candidate versions.
 */
async function dependencyClosure(apt: PrivateApt, name: string): Promise<{ name: string; version: string }[]> {
  const flags = ['--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];
  const out = await exec('apt-cache', [...apt.options, 'depends', ...flags, name], { env: aptEnv(), what: `apt-cache depends ${name}` });
  const names = new Set<string>();
  for (const line of out.stdout.split('\n')) {
    const m = /^([a-z0-9][a-z0-9.+-]*)(?::[a-z0-9]+)?$/.exec(line.trim());
    if (m && !line.startsWith(' ') && !SKIP.has(m[1]!)) names.add(m[1]!);
  }
  const policy = await exec('apt-cache', [...apt.options, 'policy', ...names], { env: aptEnv(), what: `apt-cache policy (${names.size} packages)` });
  const versions = new Map<string, string>();
  let current: string | undefined;
  for (const line of policy.stdout.split('\n')) {
    const head = /^(\S+?)(?::\S+)?:$/.exec(line);
    if (head) current = head[1];
    const cand = /^\s+Candidate:\s*(\S+)/.exec(line)?.[1];
    if (current && cand && cand !== '(none)') versions.set(current, cand);
  }
  return [...names].filter((n) => versions.has(n)).map((n) => ({ name: n, version: versions.get(n)! }));
}
