/**
 * Provides a complete Linux UAPI include tree (every architecture's `asm/`) for
 * the clang conformance oracle: Debian's `linux-libc-dev` (>= 6.12, Architecture:
 * all) from the `trixie` suite, unpacked into a cache directory outside the repo.
 *
 * The package is fetched with a private apt configuration (own sources file,
 * lists, cache and an empty dpkg status); the system's apt sources, lists and
 * installed packages are never touched and nothing is installed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../../generator/paths.js';

const execFileP = promisify(execFile);

/** Options of {@link ensureUapiTree}. */
export interface UapiTreeOptions {
  /** Cache directory; default `$VFIO_UAPI_CACHE`, else `~/.cache/vfio-uapi`. */
  cacheDir?: string;
  /** Debian suite to take `linux-libc-dev` from; default `trixie`. */
  suite?: string;
  /** Oldest acceptable upstream version; default `6.12`. */
  minVersion?: string;
  /** Progress messages (default: silent). */
  log?: (message: string) => void;
}

/** The tree's directory inside the cache: `<cache>/linux-libc-dev/{VERSION,usr/include}`. */
const TREE_DIR = 'linux-libc-dev';
const PACKAGE = 'linux-libc-dev';
const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/** The cache directory used when none is given. */
export function defaultCacheDir(): string {
  return cacheDir();
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Returns the include root (`.../usr/include`) of an unpacked `linux-libc-dev`
 * >= 6.12, downloading it on first use. The package version is recorded in
 * `<cache>/linux-libc-dev/VERSION`; a present cache is reused without network.
 * @throws Error naming the failing apt/dpkg command and its output.
 */
export async function ensureUapiTree(opts: UapiTreeOptions = {}): Promise<string> {
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  let p = inFlight.get(cacheDir);
  if (!p) {
    p = ensureTree(cacheDir, opts).finally(() => inFlight.delete(cacheDir));
    inFlight.set(cacheDir, p);
  }
  return p;
}

/** Reads the version recorded for the cached tree, or undefined when there is no usable tree. */
export async function cachedUapiTreeVersion(cacheDir: string = defaultCacheDir()): Promise<string | undefined> {
  const dir = path.join(cacheDir, TREE_DIR);
  try {
    const version = (await readFile(path.join(dir, 'VERSION'), 'utf8')).trim();
    if (!version || !(await stat(path.join(dir, 'usr', 'include', 'linux', 'types.h'))).isFile()) return undefined;
    return version;
  } catch {
    return undefined;
  }
}

async function ensureTree(cacheDir: string, opts: UapiTreeOptions): Promise<string> {
  const log = opts.log ?? (() => {});
  const minVersion = opts.minVersion ?? '6.12';
  const treeDir = path.join(cacheDir, TREE_DIR);
  const include = path.join(treeDir, 'usr', 'include');
  const cached = await cachedUapiTreeVersion(cacheDir);
  if (cached && versionAtLeast(cached, minVersion)) return include;

  await mkdir(cacheDir, { recursive: true });
  const deb = await downloadPackage(cacheDir, opts.suite ?? 'trixie', log);
  try {
    const version = (await run('dpkg-deb', ['-f', deb.file, 'Version'])).trim();
    if (!versionAtLeast(version, minVersion)) {
      throw new Error(`${PACKAGE} ${version} from ${opts.suite ?? 'trixie'} is older than ${minVersion}`);
    }
    const staging = await mkdtemp(path.join(cacheDir, `.${TREE_DIR}-`));
    try {
      log(`unpacking ${PACKAGE} ${version}`);
      await run('dpkg', ['-x', deb.file, staging]);
      await writeFile(path.join(staging, 'VERSION'), `${version}\n`);
      await chmod(staging, 0o755);
      if (existsSync(treeDir)) {
        // An outdated or broken tree: move it aside first so the swap stays atomic for readers of the new one.
        const old = `${treeDir}.old-${process.pid}-${Date.now()}`;
        await rename(treeDir, old).catch(() => {});
        await rm(old, { recursive: true, force: true });
      }
      try {
        await rename(staging, treeDir);
      } catch (err) {
        // Another process finished first: use its tree if it is good.
        if (!(await cachedUapiTreeVersion(cacheDir))) throw err;
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    await rm(deb.tmpDir, { recursive: true, force: true });
  }
  const version = await cachedUapiTreeVersion(cacheDir);
  if (!version) throw new Error(`unpacked ${PACKAGE} into ${treeDir} but it has no usr/include/linux/types.h`);
  return include;
}

/** Options of {@link fetchSuiteUapiTree}. */
export interface SuiteTreeOptions {
  /** Debian suite (`sid`, `trixie`, `trixie-backports`, ...). */
  suite: string;
  /** Cache directory; default `$VFIO_UAPI_CACHE`, else `~/.cache/vfio-uapi`. */
  cacheDir?: string;
  /** Progress messages (default: silent). */
  log?: (message: string) => void;
}

/** Where {@link fetchSuiteUapiTree} keeps each version's tree: `<cache>/linux-libc-dev.d/<version>/`. */
export const SUITE_TREES_DIR = 'linux-libc-dev.d';

/**
 * Downloads the suite's current `linux-libc-dev` (always asking the mirror,
 * with the same private apt configuration as {@link ensureUapiTree}) and
 * returns its include root and package version. Each version is unpacked once
 * into `<cache>/linux-libc-dev.d/<version>/` and kept, so older versions'
 * headers stay available; the tree of {@link ensureUapiTree} is not touched.
 * @throws Error naming the failing apt/dpkg command and its output.
 */
export async function fetchSuiteUapiTree(opts: SuiteTreeOptions): Promise<{ include: string; version: string }> {
  const log = opts.log ?? (() => {});
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  await mkdir(path.join(cacheDir, SUITE_TREES_DIR), { recursive: true });
  const deb = await downloadPackage(cacheDir, opts.suite, log);
  try {
    const version = (await run('dpkg-deb', ['-f', deb.file, 'Version'])).trim();
    const treeDir = path.join(cacheDir, SUITE_TREES_DIR, version.replace(/[^\w.+~-]/g, '_'));
    const include = path.join(treeDir, 'usr', 'include');
    if (existsSync(path.join(include, 'linux', 'types.h'))) return { include, version };
    const staging = await mkdtemp(path.join(cacheDir, SUITE_TREES_DIR, '.unpack-'));
    try {
      log(`unpacking ${PACKAGE} ${version}`);
      await run('dpkg', ['-x', deb.file, staging]);
      await writeFile(path.join(staging, 'VERSION'), `${version}\n`);
      await chmod(staging, 0o755);
      await rm(treeDir, { recursive: true, force: true });
      await rename(staging, treeDir);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return { include, version };
  } finally {
    await rm(deb.tmpDir, { recursive: true, force: true });
  }
}

/** The mirror URI and keyring of the system's main Debian archive (deb822 sources), with defaults. */
async function systemMirror(): Promise<{ uris: string; signedBy: string }> {
  let text = '';
  try {
    text = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8');
  } catch {
    return { uris: DEFAULT_MIRROR, signedBy: DEFAULT_KEYRING };
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1].trim();
    const uris = field('URIs');
    const suites = field('Suites') ?? '';
    if (!uris || /security/.test(suites) || /security/.test(uris)) continue;
    return { uris, signedBy: field('Signed-By') ?? DEFAULT_KEYRING };
  }
  return { uris: DEFAULT_MIRROR, signedBy: DEFAULT_KEYRING };
}

/** Whether apt's `lists` directory holds a suite's Release file (an `apt-get update` that once worked). */
async function hasReleaseFile(lists: string): Promise<boolean> {
  const names = await readdir(lists).catch(() => [] as string[]);
  return names.some((n) => /_(In)?Release$/.test(n));
}

/** Debian suite and codename names (`sid`, `trixie-backports`, `stable-updates`): also a directory name here. */
const SUITE_NAME = /^[a-z][a-z0-9.+-]*$/;

/** Downloads the package's .deb with a private apt configuration; returns the file and its temp dir. */
async function downloadPackage(cacheDir: string, suite: string, log: (m: string) => void): Promise<{ file: string; tmpDir: string }> {
  if (!SUITE_NAME.test(suite)) throw new Error(`not a Debian suite name: ${JSON.stringify(suite)}`);
  const aptDir = path.join(cacheDir, 'apt', suite);
  const lists = path.join(aptDir, 'lists');
  const aptCache = path.join(aptDir, 'cache');
  await mkdir(path.join(lists, 'partial'), { recursive: true });
  await mkdir(path.join(aptCache, 'archives', 'partial'), { recursive: true });
  const { uris, signedBy } = await systemMirror();
  const sources = path.join(aptDir, 'sources.sources');
  await writeFile(sources, `Types: deb\nURIs: ${uris}\nSuites: ${suite}\nComponents: main\nSigned-By: ${signedBy}\n`);
  const status = path.join(aptDir, 'status');
  await writeFile(status, '');
  const aptOpts = [
    '-o', `Dir::Etc::SourceList=${sources}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${lists}`,
    '-o', `Dir::State::status=${status}`,
    '-o', `Dir::Cache=${aptCache}`,
    '-o', 'APT::Sandbox::User=root',
    '-q',
  ];
  log(`apt-get update (${suite}, private lists in ${lists})`);
  try {
    await run('apt-get', [...aptOpts, 'update']);
  } catch (err) {
    // A suite the mirror does not have (a typo) leaves no private apt directory behind; a known suite's
    // directory, with its lists from an earlier update, stays (a network failure must not empty the cache).
    if (!(await hasReleaseFile(lists))) await rm(aptDir, { recursive: true, force: true });
    throw err;
  }
  const tmpDir = await mkdtemp(path.join(cacheDir, '.download-'));
  try {
    log(`apt-get download ${PACKAGE}`);
    await run('apt-get', [...aptOpts, 'download', PACKAGE], tmpDir);
    const debs = (await readdir(tmpDir)).filter((f) => f.endsWith('.deb'));
    if (debs.length !== 1) throw new Error(`apt-get download ${PACKAGE} left ${debs.length} .deb files in ${tmpDir}`);
    return { file: path.join(tmpDir, debs[0]), tmpDir };
  } catch (err) {
    await rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Whether Debian version `version` (e.g. `6.12.117-1`) is at least `min` (e.g.
 * `6.12`), comparing the dotted numeric components of the upstream part.
 */
export function versionAtLeast(version: string, min: string): boolean {
  const nums = (v: string) => (/^(?:\d+:)?(\d+(?:\.\d+)*)/.exec(v)?.[1] ?? '').split('.').filter(Boolean).map(Number);
  const a = nums(version);
  const b = nums(min);
  if (a.length === 0) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    const detail = e.code === 'ENOENT' ? `${cmd} not found (this needs Debian's apt and dpkg)` : (e.stderr || e.stdout || e.message).trim();
    throw new Error(`fetching ${PACKAGE} failed: \`${cmd} ${args.join(' ')}\`: ${detail}`);
  }
}
