/**
 * The guest's initramfs: busybox-static, the kernel's own vfio and 9p modules
 * (decompressed), and a generated `/init` that binds the test devices to
 * vfio-pci, chroots into the host root shared read-only over 9p, and runs the
 * job the host left on the writable share.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TEST_DEVICES, hex4 } from './devices.js';
import type { Kernel } from './kernel.js';
import { readModule, resolveModules, type ModulePlan } from './modules.js';
import { cacheRoot, exists, writeFileAtomic, type ProgressFn } from './util.js';

/** Modules the guest needs; their dependencies are added from the kernel's metadata. */
export const WANTED_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'vfio', 'vfio_iommu_type1', 'vfio_pci'] as const;

/** 9p mount tags shared with the QEMU command line. */
export const HOSTROOT_TAG = 'hostroot';
export const SHARE_TAG = 'vfio_share';

/** Where busybox-static puts its binary. */
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Bumped when the layout or init changes in a way the hash would not see. */
const FORMAT = 1;

/** Marker prefix of the init's console lines. */
export const INIT_MARK = '[vfio-uapi]';

/**
 * Builds (or reuses from the cache) the initramfs for `kernel` and returns its
 * path. The cache key covers the init script, busybox and the module files.
 */
export async function ensureInitramfs(kernel: Kernel, onProgress?: ProgressFn): Promise<string> {
  const progress = onProgress ?? (() => {});
  const busybox = await findStaticBusybox();
  const plan = await resolveModules(kernel.modulesDir, WANTED_MODULES);
  const init = initScript(plan);

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
  return resolveModules(kernel.modulesDir, WANTED_MODULES);
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
function initScript(plan: ModulePlan): string {
  const ids = [...new Set(TEST_DEVICES.map((d) => `${hex4(d.vendor)}:${hex4(d.device)}`))];
  const slotCases = TEST_DEVICES.map(
    (d) => `    *@0000:00:${d.rootSlot.toString(16).padStart(2, '0')}.0) qid=${d.id}; model=${d.model} ;;`,
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
mount -t 9p -o ${p9},ro,cache=loose ${HOSTROOT_TAG} /newroot || die "mounting the host root over 9p failed"
[ -f /share/job.sh ] || die "no job.sh on the share"
. /share/job.sh

# Bind every device with one of our vendor:device ids to vfio-pci.
devices=
for d in /sys/bus/pci/devices/*; do
  bdf=\${d##*/}
  vendor=$(cat $d/vendor); device=$(cat $d/device)
  case "$vendor:$device" in
    ${ids.join('|')}) ;;
    *) continue ;;
  esac
  real=$(readlink -f $d); slot=\${real#/sys/devices/pci0000:00/}; slot=\${slot%%/*}
  qid=null; model=null
  case "$vendor:$device@$slot" in
${slotCases}
  esac
  echo vfio-pci > $d/driver_override || die "$bdf: writing driver_override failed"
  [ -e $d/driver ] && echo $bdf > $d/driver/unbind
  echo $bdf > /sys/bus/pci/drivers_probe
  drv=$(readlink $d/driver); drv=\${drv##*/}
  [ "$drv" = vfio-pci ] || die "$bdf ($vendor:$device) did not bind to vfio-pci (driver: \${drv:-none}); see the kernel log above"
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
[ -e $R/dev/vfio/vfio ] || die "/dev/vfio/vfio missing in the chroot"

say "run: $VFIO_UAPI_NODE"
/bin/chroot $R /bin/sh -c 'cd "$0" || exit 125; exec /usr/bin/env -i "$@"' "$VFIO_UAPI_CWD" \\
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
