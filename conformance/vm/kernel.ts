/**
 * Debian kernels for the VM harness: resolved from the kernel metapackage of a
 * suite and architecture (`linux-image-amd64`, `linux-image-powerpc64le`...) with a private apt configuration (the system's
 * sources, lists and package state are never touched), downloaded with
 * `apt-get download`, unpacked with `dpkg-deb -x` into the cache.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { HOST_ARCH, archByName, type Arch, type ArchName } from './arches.js';
import { ensureCustomKernel } from './custom.js';
import { cacheRoot, exec, exists, publishDir, writeFileAtomic, type ProgressFn } from './util.js';

/**
 * Kernels the harness boots: Debian's stock kernels by suite (`newest` is sid,
 * or trixie-backports if sid has no kernel), and `custom`, the kernel we build
 * from Debian's newest linux-source with our config fragment (custom.ts).
 */
export type Suite = 'bullseye' | 'bookworm' | 'trixie' | 'newest' | 'custom';

/** Debian's stock kernels, oldest first. */
export const SUITES: readonly Suite[] = ['bullseye', 'bookworm', 'trixie', 'newest'];

/** Every kernel source: the stock suites, then `custom`. */
export const KERNEL_SOURCES: readonly Suite[] = [...SUITES, 'custom'];

/** An unpacked Debian kernel in the cache. */
export interface Kernel {
  /** The suite asked for. */
  suite: Suite;
  /** The architecture it is built for. */
  arch: ArchName;
  /** The Debian suite it came from (`sid`, `trixie-backports`, `bookworm`...). */
  distSuite: string;
  /** Kernel release, as `uname -r` prints it. */
  version: string;
  /** The image package the architecture's metapackage (`linux-image-amd64`...) depends on, and its version. */
  package: string;
  packageVersion: string;
  /** Every package unpacked (image, and on newer kernels its split-out binary/modules/base). */
  packages: string[];
  /** Absolute path of the kernel image (bzImage, ppc64 vmlinux, s390x image, arm64 Image). */
  vmlinuz: string;
  /** Absolute path of `.../lib/modules/<version>` (for `custom`: the directory of its `modules.builtin`). */
  modulesDir: string;
  /** What tells builds of one source version apart (`custom`: the config fragment's hash). */
  variant?: string;
  /** For a kernel built here (`custom`): its unpacked source tree. */
  sourceDir?: string;
  /** For a kernel built here (`custom`): its build (`O=`) directory, which holds the generated uapi headers. */
  buildDir?: string;
}

/** Options of {@link ensureKernel}. */
export interface EnsureKernelOptions {
  /** Re-resolve the suite's current kernel with apt even if one is cached (also `VFIO_UAPI_REFRESH_KERNELS=1`). */
  refresh?: boolean;
  /** The kernel's architecture (default x86_64). */
  arch?: ArchName;
}

const DIST_SUITES: Record<Exclude<Suite, 'custom'>, readonly string[]> = {
  bullseye: ['bullseye'],
  bookworm: ['bookworm'],
  trixie: ['trixie'],
  newest: ['sid', 'trixie-backports'],
};

/** What is stored beside an unpacked kernel: a {@link Kernel} without the suite asked for, paths relative to its directory. */
type KernelRecord = Omit<Kernel, 'suite' | 'arch'>;

/** Cache name of an architecture's things: the host's keep their original (arch-less) names. */
export function archCacheName(arch: Arch, name: string): string {
  return arch.name === HOST_ARCH ? name : `${arch.name}-${name}`;
}

/**
 * Makes sure the current kernel of `suite` is unpacked in the cache and
 * returns where it is. A kernel already cached for the suite is reused without
 * touching the network unless `opts.refresh` is set.
 */
export function ensureKernel(suite: Suite, onProgress?: ProgressFn, opts: EnsureKernelOptions = {}): Promise<Kernel> {
  if (suite === 'custom') {
    // Built here for the host's architecture only.
    if ((opts.arch ?? HOST_ARCH) !== HOST_ARCH) return Promise.reject(new Error(`the custom kernel is built for ${HOST_ARCH} only, not ${opts.arch}`));
    return ensureCustomKernel(onProgress, opts);
  }
  // One resolution per suite at a time in this process (apt locks its lists directory).
  const key = `${opts.arch ?? HOST_ARCH}/${suite}${opts.refresh ? ':refresh' : ''}`;
  let pending = inflight.get(key);
  if (!pending) {
    pending = ensureKernelNow(suite, onProgress, opts).finally(() => inflight.delete(key));
    inflight.set(key, pending);
  }
  return pending;
}

const inflight = new Map<string, Promise<Kernel>>();

async function ensureKernelNow(suite: Exclude<Suite, 'custom'>, onProgress: ProgressFn | undefined, opts: EnsureKernelOptions): Promise<Kernel> {
  if (!(suite in DIST_SUITES)) throw new Error(`unknown suite ${JSON.stringify(suite)} (expected one of ${KERNEL_SOURCES.join(', ')})`);
  const progress = onProgress ?? (() => {});
  const arch = archByName(opts.arch ?? HOST_ARCH);
  const kernelsDir = path.join(cacheRoot(), 'kernels');
  const pointer = path.join(kernelsDir, `${archCacheName(arch, suite)}.json`);
  const refresh = opts.refresh || process.env.VFIO_UAPI_REFRESH_KERNELS === '1';

  if (!refresh) {
    const cached = await readPointer(kernelsDir, pointer, suite, arch.name);
    if (cached) return cached;
  }

  const resolved = await resolveKernelPackages(suite, arch, progress);
  const dirName = `${resolved.image.name}_${resolved.image.version}`.replace(/[^A-Za-z0-9.+_-]/g, '_');
  const dir = path.join(kernelsDir, dirName);
  if (!(await exists(path.join(dir, 'kernel.json')))) {
    const names = resolved.packages.map((p) => `${p.name}=${p.version}`);
    progress(`downloading ${resolved.image.name} ${resolved.image.version} (${resolved.distSuite})`);
    await publishDir(dir, async (tmp) => {
      const debs = path.join(tmp, 'debs');
      await fs.mkdir(debs);
      await exec('apt-get', [...resolved.apt.options, '-q', 'download', ...names], {
        cwd: debs,
        env: aptEnv(),
        what: `apt-get download ${names.join(' ')}`,
      });
      progress(`unpacking ${resolved.image.name}`);
      const root = path.join(tmp, 'root');
      for (const deb of (await fs.readdir(debs)).filter((f) => f.endsWith('.deb'))) {
        await exec('dpkg-deb', ['-x', path.join(debs, deb), root], { what: `dpkg-deb -x ${deb}` });
      }
      await fs.rm(debs, { recursive: true, force: true });
      await fs.rm(path.join(root, 'usr', 'share'), { recursive: true, force: true });
      const layout = await locateKernel(root, arch);
      const record: KernelRecord = {
        distSuite: resolved.distSuite,
        version: layout.version,
        package: resolved.image.name,
        packageVersion: resolved.image.version,
        packages: resolved.packages.map((p) => p.name),
        vmlinuz: path.relative(tmp, layout.vmlinuz),
        modulesDir: path.relative(tmp, layout.modulesDir),
      };
      await fs.writeFile(path.join(tmp, 'kernel.json'), JSON.stringify(record, null, 2) + '\n');
    });
  }
  await writeFileAtomic(pointer, JSON.stringify({ dir: dirName }) + '\n');
  const kernel = await readPointer(kernelsDir, pointer, suite, arch.name);
  if (!kernel) throw new Error(`kernel for ${suite} was unpacked into ${dir} but cannot be read back`);
  return kernel;
}

async function readPointer(kernelsDir: string, pointer: string, suite: Suite, arch: ArchName): Promise<Kernel | undefined> {
  try {
    const { dir } = JSON.parse(await fs.readFile(pointer, 'utf8')) as { dir: string };
    const base = path.join(kernelsDir, dir);
    const rec = JSON.parse(await fs.readFile(path.join(base, 'kernel.json'), 'utf8')) as KernelRecord;
    const kernel: Kernel = {
      suite,
      arch,
      distSuite: rec.distSuite,
      version: rec.version,
      package: rec.package,
      packageVersion: rec.packageVersion,
      packages: rec.packages,
      vmlinuz: path.join(base, rec.vmlinuz),
      modulesDir: path.join(base, rec.modulesDir),
    };
    if (!(await exists(kernel.vmlinuz)) || !(await exists(kernel.modulesDir))) return undefined;
    return kernel;
  } catch {
    return undefined;
  }
}

/** Finds `lib/modules/<version>` and the kernel image in an unpacked kernel (old `/lib` + `/boot` or merged `/usr/lib/modules` layout). */
async function locateKernel(root: string, arch: Arch): Promise<{ version: string; vmlinuz: string; modulesDir: string }> {
  const found: { version: string; modulesDir: string }[] = [];
  for (const base of [path.join(root, 'usr', 'lib', 'modules'), path.join(root, 'lib', 'modules')]) {
    for (const v of await fs.readdir(base).catch(() => [] as string[])) {
      if (await exists(path.join(base, v, 'kernel'))) found.push({ version: v, modulesDir: path.join(base, v) });
    }
  }
  if (found.length !== 1) {
    throw new Error(`expected one lib/modules/<version>/kernel in the unpacked kernel, found ${found.length}: ${found.map((f) => f.version).join(', ')}`);
  }
  const { version, modulesDir } = found[0];
  const images = arch.kernelImages.map((p) => path.join(root, p.replace('{v}', version)));
  for (const cand of [...images, path.join(modulesDir, 'vmlinuz'), path.join(root, 'boot', 'vmlinuz')]) {
    if (await exists(cand)) return { version, vmlinuz: cand, modulesDir };
  }
  throw new Error(`no kernel image for ${version} in the unpacked kernel (looked in boot/ and ${path.relative(root, modulesDir)})`);
}

// ---------------------------------------------------------------------------
// Private apt configuration

interface PackageRef {
  name: string;
  version: string;
}

interface ResolvedKernel {
  distSuite: string;
  apt: PrivateApt;
  image: PackageRef;
  packages: PackageRef[];
}

/** apt options that replace every piece of system state apt would read or write (and the architecture, for foreign ones). */
export function aptOptions(aptDir: string, debianArch?: string): string[] {
  const o = (kv: string) => ['-o', kv];
  return [
    ...(debianArch ? [...o(`APT::Architecture=${debianArch}`), ...o(`APT::Architectures::=${debianArch}`)] : []),
    ...o(`Dir::Etc::SourceList=${path.join(aptDir, 'debian.sources')}`),
    ...o('Dir::Etc::SourceParts=/dev/null'),
    ...o('Dir::Etc::Preferences=/dev/null'),
    ...o('Dir::Etc::PreferencesParts=/dev/null'),
    ...o(`Dir::State::Lists=${path.join(aptDir, 'lists')}`),
    ...o('Dir::State::status=/dev/null'),
    ...o(`Dir::Cache=${path.join(aptDir, 'cache')}`),
    ...o('Acquire::Languages=none'),
    ...o('APT::Sandbox::User=root'),
  ];
}

/** The environment apt runs with (C locale, non-interactive). */
export function aptEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };
}

/** The mirror and keyring of the system's Debian archive entry (not its suites). */
async function systemArchive(): Promise<{ uris: string; signedBy?: string }> {
  const fallback = { uris: 'http://deb.debian.org/debian', signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' };
  const text = await fs.readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => undefined);
  if (text) {
    for (const stanza of text.split(/\n\s*\n/).map(parseStanza)) {
      const uris = stanza.get('uris');
      const suites = stanza.get('suites') ?? '';
      if (!uris || !/\bdeb\b/.test(stanza.get('types') ?? '') || /-security\b/.test(suites) || /security/.test(uris)) continue;
      return { uris, signedBy: stanza.get('signed-by') };
    }
  }
  const list = await fs.readFile('/etc/apt/sources.list', 'utf8').catch(() => '');
  for (const line of list.split('\n')) {
    const m = /^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!m || /security/.test(m[2]) || /-security$/.test(m[3])) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
    return { uris: m[2], signedBy };
  }
  return fallback;
}

/** Parses one deb822 stanza (keys lower-cased, continuation lines joined with newlines). */
export function parseStanza(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (/^\s/.test(line) && key) {
      fields.set(key, `${fields.get(key)}\n${line.trim()}`);
      continue;
    }
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (m) {
      key = m[1].toLowerCase();
      fields.set(key, m[2].trim());
    }
  }
  return fields;
}

/** A private apt configuration: its directory and the options that select it. */
export interface PrivateApt {
  dir: string;
  options: string[];
}

/**
 * Runs `apt-get update` with the private configuration of `distSuite` for `arch`'s Debian architecture, in
 * `apt/<dirName>` when given (users in other processes at the same time take their own name, since apt locks
 * its lists directory).
 */
export async function aptUpdate(distSuite: string, arch: Arch, progress: ProgressFn, dirName?: string): Promise<PrivateApt> {
  const foreign = arch.name !== HOST_ARCH;
  const aptDir = path.join(cacheRoot(), 'apt', dirName ?? (foreign ? `${distSuite}-${arch.debianArch}` : distSuite));
  const options = aptOptions(aptDir, foreign ? arch.debianArch : undefined);
  await fs.mkdir(path.join(aptDir, 'lists', 'partial'), { recursive: true });
  await fs.mkdir(path.join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
  const archive = await systemArchive();
  const sources = [
    'Types: deb',
    `URIs: ${archive.uris}`,
    `Suites: ${distSuite}`,
    'Components: main',
    ...(archive.signedBy ? [`Signed-By: ${archive.signedBy}`] : []),
    '',
  ].join('\n');
  await writeFileAtomic(path.join(aptDir, 'debian.sources'), sources);
  progress(`apt-get update (${distSuite} ${arch.debianArch}, private lists)`);
  await exec('apt-get', [...options, '-q', 'update'], { env: aptEnv(), what: `apt-get update for ${distSuite} ${arch.debianArch}` });
  return { dir: aptDir, options };
}

/** The stanza of `name` at `version` (or apt's candidate), or undefined if the suite lacks it. */
export async function showPackage(apt: PrivateApt, name: string, version?: string): Promise<Map<string, string> | undefined> {
  if (!version) {
    const policy = await exec('apt-cache', [...apt.options, 'policy', name], { env: aptEnv(), what: `apt-cache policy ${name}` });
    const cand = /Candidate:\s*(\S+)/.exec(policy.stdout)?.[1];
    if (!cand || cand === '(none)') return undefined;
    version = cand;
  }
  const shown = await exec('apt-cache', [...apt.options, 'show', `${name}=${version}`], {
    env: aptEnv(),
    what: `apt-cache show ${name}=${version}`,
  }).catch(() => undefined);
  if (!shown) return undefined;
  const stanza = parseStanza(shown.stdout.split(/\n\s*\n/)[0]);
  return stanza.get('package') === name ? stanza : undefined;
}

/** True for packages built from the kernel's own sources (`linux`, `linux-signed-*`). */
function isKernelSource(stanza: Map<string, string>): boolean {
  const source = (stanza.get('source') ?? stanza.get('package') ?? '').split(/\s/)[0];
  return /^linux(-signed-[a-z0-9-]+)?$/.test(source);
}

/**
 * Follows the kernel metapackage's (`linux-image-amd64`...) dependencies through the packages built from
 * the kernel sources (image, and on newer kernels linux-binary-*,
 * linux-modules-*, linux-base-*), skipping tools such as kmod or initramfs-tools.
 */
async function resolveKernelPackages(suite: Exclude<Suite, 'custom'>, arch: Arch, progress: ProgressFn): Promise<ResolvedKernel> {
  const tried: string[] = [];
  const META_PACKAGE = arch.kernelMeta;
  for (const distSuite of DIST_SUITES[suite]) {
    const apt = await aptUpdate(distSuite, arch, progress);
    const meta = await showPackage(apt, META_PACKAGE);
    if (!meta) {
      tried.push(distSuite);
      continue;
    }
    const packages: PackageRef[] = [];
    const seen = new Set<string>([META_PACKAGE]);
    const queue: Map<string, string>[] = [meta];
    let image: PackageRef | undefined;
    while (queue.length > 0) {
      const stanza = queue.shift()!;
      for (const group of (stanza.get('depends') ?? '').split(',')) {
        for (const alt of group.split('|')) {
          const m = /^\s*([a-z0-9][a-z0-9.+-]*)(?::\S+)?\s*(?:\(\s*(=|>=|<=|>>|<<)\s*([^)\s]+)\s*\))?/.exec(alt);
          if (!m || seen.has(m[1])) continue;
          seen.add(m[1]);
          const dep = await showPackage(apt, m[1], m[2] === '=' ? m[3] : undefined);
          if (!dep || !isKernelSource(dep)) continue;
          const ref = { name: m[1], version: dep.get('version')! };
          packages.push(ref);
          if (!image && stanza === meta && /^linux-image-/.test(ref.name)) image = ref;
          queue.push(dep);
          break;
        }
      }
    }
    if (!image) throw new Error(`${META_PACKAGE} in ${distSuite} does not depend on a linux-image-* package (Depends: ${meta.get('depends')})`);
    progress(`${suite}: ${META_PACKAGE} ${meta.get('version')} -> ${packages.map((p) => p.name).join(', ')}`);
    return { distSuite, apt, image, packages };
  }
  throw new Error(`no ${META_PACKAGE} in ${tried.join(' or ')} (checked with apt-cache policy after a private apt-get update)`);
}
