/**
 * Guest side: ioeventfds, device reset, PCI hot-reset info and hot reset.
 */
import { EventFd } from 'vfio-uapi/runtime';
import { hex, int32Bytes, parseBdf, readRegion, waitFor, writeRegion, type Context, type OpenDevice } from './context.js';
import { EDU_ID } from './device.js';
import { checkMinsz } from './info.js';
import { attempt } from './verdicts.js';

/** `0000:02:01.0` from the fields of a `struct vfio_pci_dependent_device`. */
function pciAddress(segment: number, bus: number, devfn: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(segment, 4)}:${h(bus, 2)}:${h(devfn >> 3, 2)}.${devfn & 7}`;
}

/** VFIO_DEVICE_IOEVENTFD on edu's inversion register: the kernel's write is seen through the register. */
export function ioeventfdChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_IOEVENTFD';
  const rec = 'vfio_device_ioeventfd';
  const bar0 = dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset;
  const at = bar0 + 4n;
  const SIZE32 = k.c('VFIO_DEVICE_IOEVENTFD_32');
  const data = 0x5555aaaan;
  const assign = (fd: number, flags = SIZE32, offset = at) => ctx.call(dev.fd, S, k.encode(rec, { flags, offset, data, fd }));
  v.run(S, dev.entry.bdf, () => {
    using e = EventFd.create({ nonBlocking: true });
    checkMinsz(ctx, dev.fd, S, rec, 'fd', { flags: SIZE32, offset: at, data, fd: e.fd }, S, dev.entry.bdf);
    v.expectErrno(S, 'no size flag', 'EINVAL', () => assign(e.fd, 0));
    v.expectErrno(S, 'two size flags', 'EINVAL', () => assign(e.fd, SIZE32 | k.c('VFIO_DEVICE_IOEVENTFD_16')));
    const cfg = dev.regions[k.c('VFIO_PCI_CONFIG_REGION_INDEX')]!.offset;
    v.expectErrno(S, 'offset in config space (not a BAR)', 'EINVAL', () => assign(e.fd, SIZE32, cfg + 4n));

    assign(e.fd);
    try {
      v.expectErrno(S, 'the same offset, data and size again', 'EEXIST', () => assign(e.fd));
      writeRegion(dev.fd, at, 0);
      e.write(1n);
      const want = ~Number(data) >>> 0;
      const seen = waitFor(() => readRegion(dev.fd, at) === want, 3000);
      v.expect(S, seen, `eventfd write -> the kernel wrote ${hex(data)} (32 bit) at BAR0+0x04: it reads ${hex(want)}`);
    } finally {
      assign(-1);
    }
    writeRegion(dev.fd, at, 0);
    e.write(1n);
    waitFor(() => false, 200);
    const after = readRegion(dev.fd, at);
    v.expect(S, after === 0xffffffff, 'de-assigned (fd -1): an eventfd write no longer reaches the device', `BAR0+0x04 reads ${hex(after)}`);
  });
}

/** VFIO_DEVICE_RESET on every device: works where GET_INFO says RESET, EINVAL elsewhere. */
export function resetChecks(ctx: Context): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_RESET';
  const RESET = k.c('VFIO_DEVICE_FLAGS_RESET');
  const refusedOn: string[] = [];
  for (const dev of ctx.devices.values()) {
    v.run(S, dev.entry.bdf, () => {
      if (dev.flags & RESET) {
        ctx.call(dev.fd, S);
        const alive = dev.model !== 'edu' || ctx.edu32(readRegion(dev.fd, dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset)) === EDU_ID;
        v.expect(S, alive, `${dev.entry.bdf} (flags RESET): reset -> 0${dev.model === 'edu' ? ', edu answers after it' : ''}`);
      } else {
        const r = attempt(() => ctx.call(dev.fd, S));
        if (!r.ok && r.code === 'EINVAL') refusedOn.push(dev.entry.bdf);
        else v.fail(S, `${dev.entry.bdf} without the RESET flag: expected EINVAL, got ${r.ok ? 'success' : r.code}`);
      }
    });
  }
  if (refusedOn.length) {
    v.note(S, `no reset method, EINVAL as documented: ${refusedOn.join(', ')}`);
    v.refused(S, `no device has a reset method (no FLR/PM reset, alone on a resettable bus): EINVAL on ${refusedOn.join(', ')}`);
  }
}

/** Hot-reset info on every device, and a hot reset where one is possible. */
export function hotResetChecks(ctx: Context): void {
  const { k, v } = ctx;
  const INFO = 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO';
  const RESET = 'VFIO_DEVICE_PCI_HOT_RESET';
  const { record: infoRec, note: infoNote } = k.argRecord(INFO);
  const { record: resetRec, note: resetNote } = k.argRecord(RESET);
  if (infoNote) v.note(INFO, infoNote);
  if (resetNote) v.note(RESET, resetNote);
  const depRec = 'vfio_pci_dependent_device';
  const size = k.sizeof(infoRec);
  const dsize = k.sizeof(depRec);
  const noBusReset: string[] = [];
  const resettable: { dev: OpenDevice; groups: number[] }[] = [];

  for (const dev of ctx.devices.values()) {
    const bdf = dev.entry.bdf;
    v.run(INFO, bdf, () => {
      const first = k.encode(infoRec, {});
      const r = attempt(() => ctx.call(dev.fd, INFO, first));
      if (!r.ok && r.code === 'ENODEV') { noBusReset.push(bdf); return; }
      if (r.ok) throw new Error(`argsz ${size} (no room for devices) succeeded`);
      const count = Number(k.decode(infoRec, first).count);
      v.expect(INFO, r.code === 'ENOSPC' && count >= 1, `${bdf}: argsz ${size} -> ENOSPC, count ${count}`, `got ${r.code}`);
      checkMinsz(ctx, dev.fd, INFO, infoRec, 'count', {}, INFO, bdf);
      const need = size + count * dsize;
      const tooSmall = new Uint8Array(need - 1);
      tooSmall.set(k.encode(infoRec, { argsz: need - 1 }));
      v.expectErrno(INFO, `${bdf}: argsz sizeof + count * sizeof(dependent device) - 1 = ${need - 1}`, 'ENOSPC', () => ctx.call(dev.fd, INFO, tooSmall));
      const bytes = new Uint8Array(need);
      bytes.set(k.encode(infoRec, { argsz: need }));
      ctx.call(dev.fd, INFO, bytes);
      const at = k.field(infoRec, 'devices').offset;
      const deps = Array.from({ length: count }, (_, i) => k.decode(depRec, bytes, at + i * dsize));
      const me = parseBdf(bdf);
      const self = deps.find((d) => d.segment === me.segment && d.bus === me.bus && d.devfn === me.devfn);
      const shown = deps.map((d) => `${pciAddress(d.segment, d.bus, d.devfn)} group ${d.group_id}`).join(', ');
      v.expect(INFO, self !== undefined && self.group_id === dev.entry.iommuGroup,
        `${bdf}: argsz ${need} = sizeof ${size} + ${count} x ${dsize}: affected ${shown} (itself, its group ${dev.entry.iommuGroup})`,
        `devices decoded: ${shown}`);
      resettable.push({ dev, groups: [...new Set(deps.map((d) => Number(d.group_id)))] });
    });
  }
  if (noBusReset.length) {
    v.note(INFO, `no slot or bus reset (root bus): ENODEV on ${noBusReset.join(', ')}`);
    v.refused(INFO, `no device can be hot reset here: ENODEV on ${noBusReset.join(', ')}`);
  }

  for (const { dev, groups } of resettable) {
    const bdf = dev.entry.bdf;
    v.run(RESET, bdf, () => {
      const fds = groups.map((g) => ctx.groups.get(g)?.fd);
      if (fds.some((f) => f === undefined)) { v.note(RESET, `${bdf}: an affected group is not open here`); return; }
      const send = (list: number[], flags = 0) => ctx.call(dev.fd, RESET, k.encode(resetRec, { flags, count: list.length }, int32Bytes(list)));
      checkMinsz(ctx, dev.fd, RESET, resetRec, 'count', { count: 1 }, RESET, bdf);
      v.expectErrno(RESET, `${bdf}: count 0`, 'EINVAL', () => send([]));
      v.expectErrno(RESET, `${bdf}: flags 1`, 'EINVAL', () => send(fds as number[], 1));
      v.expectErrno(RESET, `${bdf}: group fd -1`, 'EBADF', () => send([-1]));
      const others = [...ctx.groups].filter(([g]) => !groups.includes(g)).map(([, fd]) => fd.fd);
      if (others.length) v.expectErrno(RESET, `${bdf}: only groups the reset does not affect`, 'EINVAL', () => send([others[0]!]));
      send(fds as number[]);
      const alive = dev.model !== 'edu' || ctx.edu32(readRegion(dev.fd, dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset)) === EDU_ID;
      v.expect(RESET, alive, `${bdf}: hot reset with the fds of groups ${groups.join(',')} -> 0${dev.model === 'edu' ? '; edu answers after it' : ''}`);
    });
  }
  if (resettable.length === 0) {
    v.na(RESET, 'no device here has a slot or bus reset (GET_PCI_HOT_RESET_INFO: ENODEV)');
  }
}
