/**
 * Guest side: VFIO_DEVICE_FEATURE. The ioctl's own rules (argsz, unknown
 * flags, GET and SET together), then a PROBE of every `VFIO_DEVICE_FEATURE_*`
 * id of the kernel's header, each id getting its own verdict; supported
 * features are exercised where that is safe.
 */
import { readFileSync } from 'node:fs';
import { EventFd, O_CLOEXEC, O_RDWR, OwnedFd } from 'vfio-uapi/runtime';
import { readRegion, type Context, type OpenDevice } from './context.js';
import { EDU_ID } from './device.js';
import { checkMinsz } from './info.js';
import { attempt } from './verdicts.js';

const S = 'VFIO_DEVICE_FEATURE';

/** Why a feature is not offered by plain vfio-pci on emulated devices, by id. */
const UNSUPPORTED_REASON: Record<string, string> = {
  VFIO_DEVICE_FEATURE_PCI_VF_TOKEN: 'needs an SR-IOV PF bound to vfio-pci (a VF token)',
  VFIO_DEVICE_FEATURE_MIGRATION: 'needs a migration-capable variant driver (mlx5/hisi/pds/virtio/qat vfio-pci)',
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: 'needs a migration-capable variant driver',
  VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: 'needs a migration-capable variant driver',
  VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: 'needs a migration-capable variant driver with PRE_COPY',
  VFIO_DEVICE_FEATURE_DMA_LOGGING_START: 'needs device DMA logging (a variant driver with log_ops)',
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP: 'needs device DMA logging (a variant driver with log_ops)',
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT: 'needs device DMA logging (a variant driver with log_ops)',
  VFIO_DEVICE_FEATURE_BUS_MASTER: 'CDX devices only (PCI bus mastering is in config space)',
  VFIO_DEVICE_FEATURE_DMA_BUF: 'needs a kernel with VFIO_PCI_DMABUF and a P2P-capable BAR',
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: 'needs runtime PM support in vfio-pci',
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: 'needs runtime PM support in vfio-pci',
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT: 'needs runtime PM support in vfio-pci',
};

/** Probes every feature id on `dev`. */
export function featureChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const GET = k.c('VFIO_DEVICE_FEATURE_GET');
  const SET = k.c('VFIO_DEVICE_FEATURE_SET');
  const PROBE = k.c('VFIO_DEVICE_FEATURE_PROBE');
  const { record, note } = k.argRecord(S);
  if (note) v.note(S, note);
  const feature = (flags: number, data?: Uint8Array) => ctx.call(dev.fd, S, k.encode(record, { flags }, data));
  const bdf = dev.entry.bdf;

  v.run(S, 'rules', () => {
    checkMinsz(ctx, dev.fd, S, record, 'flags', { flags: PROBE }, S, bdf);
    v.expectErrno(S, 'an unknown flag bit (1 << 20)', 'EINVAL', () => feature(PROBE | (1 << 20)));
    v.expectErrno(S, 'GET|SET without PROBE', 'EINVAL', () => feature(GET | SET | k.c(k.manifest.features[0]!)));
    v.expectErrno(S, 'PROBE of feature 0xffff (none)', 'ENOTTY', () => feature(PROBE | 0xffff));
  });

  const supported: string[] = [];
  for (const name of k.manifest.features) {
    const id = k.c(name);
    v.run(name, 'probe', () => {
      const r = attempt(() => feature(PROBE | id));
      if (!r.ok) {
        if (r.code === 'ENOTTY') {
          v.note(name, `PROBE on ${bdf} -> ENOTTY`);
          v.na(name, `${UNSUPPORTED_REASON[name] ?? 'not offered by vfio-pci here'}; PROBE -> ENOTTY as documented`);
        } else if (UNSUPPORTED_REASON[name] && r.code === 'EINVAL') {
          // Not the ENOTTY of the other unsupported features: recorded, with what GET and SET probes say.
          const ways = [['GET', GET], ['SET', SET]].map(([w, bit]) => {
            const x = attempt(() => feature(PROBE | id | (bit as number)));
            return `PROBE|${w} -> ${x.ok ? 0 : x.code}`;
          });
          v.note(name, `PROBE on ${bdf} -> EINVAL, not ENOTTY (${ways.join(', ')})`);
          v.na(name, `${UNSUPPORTED_REASON[name]}; the kernel refuses the PROBE with EINVAL where the other unsupported features answer ENOTTY`);
        } else v.fail(name, `PROBE -> ${r.code} (expected 0 or ENOTTY)`);
        return;
      }
      const ways = [['GET', GET], ['SET', SET]].filter(([, bit]) => attempt(() => feature(PROBE | id | (bit as number))).ok).map(([w]) => w);
      supported.push(`${name}(${ways.join('/') || 'probe only'})`);
      v.pass(name, `PROBE on ${bdf} -> 0, supports ${ways.join(' and ') || 'neither GET nor SET'}`);
      exercise(ctx, dev, name, id, feature);
    });
  }
  v.pass(S, `${bdf}: ${k.manifest.features.length} feature ids probed; supported: ${supported.join(', ') || 'none'}`);
}

/** Uses a supported feature where that is safe and its effect visible. */
function exercise(ctx: Context, dev: OpenDevice, name: string, id: number, feature: (flags: number, data?: Uint8Array) => number): void {
  const { k, v } = ctx;
  const GET = k.c('VFIO_DEVICE_FEATURE_GET');
  const SET = k.c('VFIO_DEVICE_FEATURE_SET');
  const bar0 = dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')];
  const eduAlive = () => dev.model !== 'edu' || !bar0 || ctx.edu32(readRegion(dev.fd, bar0.offset)) === EDU_ID;
  const EXIT = 'VFIO_DEVICE_FEATURE_LOW_POWER_EXIT';
  if (name === 'VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY' && k.has(EXIT)) {
    feature(SET | id);
    feature(SET | k.c(EXIT));
    v.expect(name, eduAlive(), 'SET LOW_POWER_ENTRY then SET LOW_POWER_EXIT -> 0; the device answers after');
    v.pass(EXIT, 'SET after LOW_POWER_ENTRY -> 0');
  } else if (name === 'VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP' && k.has(EXIT)) {
    using wakeup = EventFd.create({ nonBlocking: true });
    v.expectErrno(name, 'SET without the eventfd data (argsz = sizeof(struct vfio_device_feature))', 'EINVAL', () => feature(SET | id));
    feature(SET | id, k.encode('vfio_device_low_power_entry_with_wakeup', { wakeup_eventfd: wakeup.fd, reserved: 0 }));
    feature(SET | k.c(EXIT));
    v.expect(name, eduAlive(), `SET with wakeup eventfd ${wakeup.fd}, then SET LOW_POWER_EXIT -> 0; the device answers after`);
    v.pass(EXIT, 'SET after LOW_POWER_ENTRY_WITH_WAKEUP -> 0');
  } else if (name === 'VFIO_DEVICE_FEATURE_DMA_BUF' && bar0) {
    const rec = 'vfio_device_feature_dma_buf';
    const range = k.encode('vfio_region_dma_range', { offset: 0n, length: 4096n });
    const data = k.encode(rec, { region_index: 0, open_flags: O_RDWR | O_CLOEXEC, flags: 0, nr_ranges: 1 }, range);
    const r = attempt(() => feature(GET | id, data));
    if (r.ok) {
      const fd = new OwnedFd(r.value, 'dma-buf');
      try {
        // A dma-buf's fdinfo says its size and exporter.
        const info = readFileSync(`/proc/self/fdinfo/${fd.fd}`, 'utf8');
        const size = /^size:\s*(\d+)/m.exec(info)?.[1];
        const exporter = /^exp_name:\s*(\S+)/m.exec(info)?.[1];
        v.expect(name, size === '4096', `GET with BAR0 [0, 4 KiB) -> dma-buf fd (fdinfo: size ${size}, exporter ${exporter})`, 'expected a 4096-byte dma-buf');
      } finally {
        fd.close();
      }
    } else v.fail(name, `PROBE says GET works, but GET with BAR0 [0, 4 KiB) -> ${r.code}`);
  }
}
