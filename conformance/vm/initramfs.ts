/**
 * The guest's initramfs: busybox-static, the kernel's own vfio and 9p modules
 * (decompressed), and a generated `/init` that binds the test devices to
 * vfio-pci, chroots into the host root shared read-only over 9p, and runs the
 * job the host left on the writable share.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ARCHES, HOST_ARCH, archByName, type Arch } from './arches.js';
import { hex4 } from './devices.js';
import type { Kernel } from './kernel.js';
import { readModule, resolveModules, type ModulePlan } from './modules.js';
import { ensureForeignBusybox } from './userland.js';
import { cacheRoot, exists, writeFileAtomic, type ProgressFn } from './util.js';

/** Modules a guest of `arch` needs (9p transport, 9p, VFIO); their dependencies are added from the kernel's metadata. */
export function wantedModules(arch: Arch): string[] {
  return [...arch.transportModules, '9p', ...(arch.node.kind === 'debian' ? ['overlay'] : []), ...arch.vfioModules];
}

/** Modules the host architecture's guest needs. */
export const WANTED_MODULES: readonly string[] = wantedModules(ARCHES[HOST_ARCH]);

/** 9p mount tags shared with the QEMU command line. */
export const HOSTROOT_TAG = 'hostroot';
/** @see HOSTROOT_TAG */
export const SHARE_TAG = 'vfio_share';
/** The guest's own node root (foreign architectures), mounted beside the share. */
export const NODEROOT_TAG = 'noderoot';

/** Where busybox-static puts its binary. */
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Bumped when the layout or init changes in a way the hash would not see. */
const FORMAT = 2;

/** Marker prefix of the init's console lines. */
export const INIT_MARK = '[vfio-uapi]';

/**
 * Builds (or reuses from the cache) the initramfs for `kernel` and returns its
 * path. The cache key covers the init script, busybox and the module files.
 */
export async function ensureInitramfs(kernel: Kernel, onProgress?: ProgressFn): Promise<string> {
  const progress = onProgress ?? (() => {});
  const arch = archByName(kernel.arch ?? HOST_ARCH);
  const busybox = arch.name === HOST_ARCH ? await findStaticBusybox() : await ensureForeignBusybox(arch, progress);
  const plan = await initramfsModules(kernel);
  const init = initScript(plan, arch);

  const hash = createHash('sha256').update(`format ${FORMAT}\n${init}\n`);
  for (const file of [busybox, ...plan.load.map((m) => path.join(kernel.modulesDir, m.path))]) {
    const st = await fs.stat(file);
    hash.update(`${file} ${st.size} ${st.mtimeMs}\n`);
  }
  const out = path.join(cacheRoot(), 'initramfs', `${kernel.version}-${hash.digest('hex').slice(0, 16)}.cpio`);
  if (await exists(out)) return out;

  progress(`building initramfs for ${kernel.version}: ${plan.load.map((m) => m.name).join(' ')}` + (plan.builtin.length ? ` (built in: ${plan.builtin.join(' ')})` : ''));
  const cpio = new CpioWriter();
  for (const dir of ['bin', 'dev', 'proc', 'sys', 'tmp', 'share', 'newroot', 'lib', 'lib/modules']) cpio.dir(dir);
  cpio.charDevice('dev/console', 5, 1, 0o600);
  cpio.file('bin/busybox', await fs.readFile(busybox), 0o755);
  for (const m of plan.load) cpio.file(`lib/modules/${m.name}.ko`, await readModule(path.join(kernel.modulesDir, m.path)), 0o644);
  cpio.file('init', Buffer.from(init), 0o755);
  await writeFileAtomic(out, cpio.finish());
  return out;
}

/** The modules an initramfs for `kernel` loads (in order) and the wanted ones built in. */
export function initramfsModules(kernel: Kernel): Promise<ModulePlan> {
  const arch = archByName(kernel.arch ?? HOST_ARCH);
  return resolveModules(kernel.modulesDir, wantedModules(arch), arch.iommuModules);
}

async function findStaticBusybox(): Promise<string> {
  for (const cand of BUSYBOX_CANDIDATES) {
    if (!(await exists(cand))) continue;
    if (await isDynamicElf(cand)) {
      throw new Error(`${cand} is dynamically linked and cannot run in the initramfs: apt-get install busybox-static`);
    }
    return cand;
  }
  throw new Error(`busybox not found (${BUSYBOX_CANDIDATES.join(', ')}): apt-get install busybox-static`);
}

/** True if an ELF64 file has a PT_INTERP program header. */
async function isDynamicElf(file: string): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    await fh.read(ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return true;
    return false;
  } finally {
    await fh.close();
  }
}

/** Writer of the `newc` cpio format the kernel unpacks as initramfs. */
class CpioWriter {
  private readonly chunks: Buffer[] = [];
  private ino = 1;

  dir(name: string, mode = 0o755): void {
    this.entry(name, 0o040000 | mode, Buffer.alloc(0), 2);
  }

  file(name: string, data: Buffer, mode: number): void {
    this.entry(name, 0o100000 | mode, data, 1);
  }

  charDevice(name: string, major: number, minor: number, mode: number): void {
    this.entry(name, 0o020000 | mode, Buffer.alloc(0), 1, major, minor);
  }

  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0), 1);
    return Buffer.concat(this.chunks);
  }

  private entry(name: string, mode: number, data: Buffer, nlink: number, rdevMajor = 0, rdevMinor = 0): void {
    const fields = [this.ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, Buffer.byteLength(name) + 1, 0];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    this.chunks.push(Buffer.from(header, 'ascii'), Buffer.from(`${name}\0`), pad(110 + Buffer.byteLength(name) + 1));
    this.chunks.push(data, pad(data.length));
  }
}

function pad(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

/**
 * The busybox `/init`. The host leaves `job.sh` on the writable share; it sets
 * VFIO_UAPI_RUN_DIR (the share's path on the host, mounted at the same path in
 * the chroot), VFIO_UAPI_NODE, VFIO_UAPI_CWD, VFIO_UAPI_SUITE, and the
 * positional parameters: extra NAME=VALUE environment, then node's argv.
 */
function initScript(plan: ModulePlan, arch: Arch): string {
  const ids = [...new Set(arch.devices.map((d) => `${hex4(d.vendor)}:${hex4(d.device)}`))];
  const slotCases = arch.devices.map(
    (d) => `    ${d.sysfsMatch}|${d.sysfsMatch}/*) qid=${d.id}; model=${d.model} ;;`,
  ).join('\n');
  const p9 = 'trans=virtio,version=9p2000.L,msize=262144';
  return `#!/bin/busybox sh
# vfio-uapi VM harness init, generated by conformance/vm/initramfs.ts
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "${INIT_MARK} $*"; }
die() {
  say "FATAL: $*"
  [ -f /share/job.sh ] && echo "$*" > /share/init-error
  sync
  poweroff -f
  sleep 60
}

say "kernel $(uname -r) up"
for m in ${plan.load.map((m) => m.name).join(' ')}; do
  insmod /lib/modules/$m.ko || die "insmod $m.ko failed"
done

mount -t 9p -o ${p9} ${SHARE_TAG} /share || die "mounting the 9p share ${SHARE_TAG} failed"
[ -f /share/job.sh ] || die "no job.sh on the share"
. /share/job.sh
if [ -n "$VFIO_UAPI_NODEROOT" ]; then
  # Another architecture than the host's: its node root (node, its libraries, /usr/share/nodejs) over the host root.
  mkdir -p /hostroot /noderoot
  mount -t 9p -o ${p9},ro,cache=loose ${HOSTROOT_TAG} /hostroot || die "mounting the host root over 9p failed"
  mount -t 9p -o ${p9},ro,cache=loose ${NODEROOT_TAG} /noderoot || die "mounting the guest's node root over 9p failed"
  mount -t overlay overlay -o lowerdir=/noderoot:/hostroot /newroot || die "overlaying the node root on the host root failed"
else
  mount -t 9p -o ${p9},ro,cache=loose ${HOSTROOT_TAG} /newroot || die "mounting the host root over 9p failed"
fi

# Bind every device with one of our vendor:device ids to vfio-pci.
devices=
for d in /sys/bus/pci/devices/*; do
  bdf=\${d##*/}
  vendor=$(cat $d/vendor); device=$(cat $d/device)
  case "$vendor:$device" in
    ${ids.join('|')}) ;;
    *) continue ;;
  esac
  real=$(readlink -f $d); rel=\${real#/sys/devices/}
  qid=null; model=null
  case "$rel" in
${slotCases}
  esac
  echo vfio-pci > $d/driver_override || die "$bdf: writing driver_override failed"
  [ -e $d/driver ] && echo $bdf > $d/driver/unbind
  echo $bdf > /sys/bus/pci/drivers_probe
  drv=$(readlink $d/driver); drv=\${drv##*/}
  # The kernel's reason (the console is quiet): its last line about the device.
  [ "$drv" = vfio-pci ] || die "$bdf ($vendor:$device) did not bind to vfio-pci (driver: \${drv:-none}); kernel: $(dmesg | grep -F "$bdf" | tail -n 1 | sed 's/^\[[ 0-9.]*\] //')"
  group=$(readlink $d/iommu_group); group=\${group##*/}
  [ "$qid" = null ] || qid="\\"$qid\\""; [ "$model" = null ] || model="\\"$model\\""
  devices="$devices\${devices:+,}{\\"bdf\\":\\"$bdf\\",\\"vendor\\":\\"$vendor\\",\\"device\\":\\"$device\\",\\"iommuGroup\\":$group,\\"qemuId\\":$qid,\\"qemuModel\\":$model,\\"driver\\":\\"$drv\\"}"
done
echo "[$devices]" > /share/devices.json
uname -r > /share/uname

R=/newroot
mount -t proc proc $R/proc || die "mounting /proc in the chroot failed"
mount -t sysfs sysfs $R/sys || die "mounting /sys in the chroot failed"
mount -t devtmpfs devtmpfs $R/dev || die "mounting /dev in the chroot failed"
mkdir -p $R/dev/shm && mount -t tmpfs tmpfs $R/dev/shm
mount -o bind /share "$R$VFIO_UAPI_RUN_DIR" || die "bind-mounting the share at $VFIO_UAPI_RUN_DIR failed"
${arch.hugepages > 0 ? `echo ${arch.hugepages} > /proc/sys/vm/nr_hugepages; mkdir -p $R/dev/hugepages && mount -t hugetlbfs hugetlbfs $R/dev/hugepages
` : ''}[ -e $R/dev/vfio/vfio ] || die "/dev/vfio/vfio missing in the chroot"

say "run: $VFIO_UAPI_NODE"
# The chroot's own /bin/sh and env may be of another architecture than the guest: use our busybox from the share.
cp /bin/busybox /share/busybox || die "copying busybox to the share failed"
B="$VFIO_UAPI_RUN_DIR/busybox"
/bin/chroot $R "$B" sh -c 'cd "$0" || exit 125; b=$1; shift; exec "$b" env -i "$@"' "$VFIO_UAPI_CWD" "$B" \\
  HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \\
  TMPDIR="$VFIO_UAPI_RUN_DIR/tmp" VFIO_UAPI_GUEST=1 VFIO_UAPI_SUITE="$VFIO_UAPI_SUITE" \\
  VFIO_UAPI_RESULT="$VFIO_UAPI_RUN_DIR/result.json" VFIO_UAPI_DEVICES="[$devices]" \\
  "$@"
rc=$?
echo $rc > /share/exit-code
say "exit $rc"
sync
poweroff -f
sleep 60
`;
}
