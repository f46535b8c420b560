/**
 * Guest side: VFIO_DEVICE_SET_IRQS with eventfds.
 *
 * - INTx (edu): the device raises its line (BAR0 + 0x60), the eventfd fires,
 *   the line is automasked; MASK / UNMASK (DATA_NONE and DATA_BOOL), a pending
 *   interrupt delivered on unmask, a loopback trigger, disable.
 * - MSI (edu): the device raises an MSI, the eventfd fires; loopback triggers.
 * - MSI-X (e1000e): every vector on its own eventfd; DATA_NONE and DATA_BOOL
 *   loopback triggers reach exactly the vectors asked for; one vector detached.
 * - ERR and REQ: eventfd set, loopback trigger, cleared.
 * - Refusals: bad data types, ranges past the count, MSI while INTx is on.
 */
import { EventFd } from 'vfio-uapi/runtime';
import { fired, int32Bytes, writeRegion, type Context, type OpenDevice } from './context.js';
import { checkMinsz } from './info.js';

const S = 'VFIO_DEVICE_SET_IRQS';

/** Issues SET_IRQS with the kernel header's `struct vfio_irq_set` and `data` after it. */
function setIrqs(ctx: Context, dev: OpenDevice, flags: number, index: number, start: number, count: number, data?: Uint8Array): void {
  ctx.call(dev.fd, S, ctx.k.encode('vfio_irq_set', { flags, index, start, count }, data));
}

/** How long to wait for an interrupt that must come, and for one that must not. */
const COMES_MS = 3000;
const STAYS_MS = 250;

/** All SET_IRQS checks on the devices found. */
export function irqChecks(ctx: Context): void {
  const edu = ctx.deviceOf('edu', 'edu0');
  const nic = ctx.deviceOf('e1000e');
  if (edu) {
    ctx.v.run(S, `${edu.entry.bdf} INTx`, () => intxChecks(ctx, edu));
    ctx.v.run(S, `${edu.entry.bdf} MSI`, () => msiChecks(ctx, edu));
  } else ctx.v.note(S, 'no edu device: no device-raised INTx/MSI');
  const hasMsix = (d: OpenDevice) => (d.irqCounts[ctx.k.c('VFIO_PCI_MSIX_IRQ_INDEX')] ?? 0) > 0;
  const msix = nic && hasMsix(nic) ? nic : [...ctx.devices.values()].find(hasMsix);
  if (msix) ctx.v.run(S, `${msix.entry.bdf} MSI-X`, () => msixChecks(ctx, msix));
  else ctx.v.note(S, 'no device with MSI-X vectors (GET_IRQ_INFO)');
  for (const dev of ctx.devices.values()) ctx.v.run(S, `${dev.entry.bdf} ERR/REQ`, () => errReqChecks(ctx, dev));
}

function intxChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const bdf = dev.entry.bdf;
  const INTX = k.c('VFIO_PCI_INTX_IRQ_INDEX');
  const NONE = k.c('VFIO_IRQ_SET_DATA_NONE');
  const BOOL = k.c('VFIO_IRQ_SET_DATA_BOOL');
  const EVENTFD = k.c('VFIO_IRQ_SET_DATA_EVENTFD');
  const MASK = k.c('VFIO_IRQ_SET_ACTION_MASK');
  const UNMASK = k.c('VFIO_IRQ_SET_ACTION_UNMASK');
  const TRIGGER = k.c('VFIO_IRQ_SET_ACTION_TRIGGER');
  const bar0 = dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset;
  const raise = () => writeRegion(dev.fd, bar0 + 0x60n, 1);
  const ack = () => writeRegion(dev.fd, bar0 + 0x64n, 1);

  checkMinsz(ctx, dev.fd, S, 'vfio_irq_set', 'count', { flags: TRIGGER | NONE, index: INTX, start: 0, count: 0 }, S, bdf);
  v.expectErrno(S, 'DATA_NONE|DATA_BOOL together', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE | BOOL, INTX, 0, 1, new Uint8Array([1])));
  v.expectErrno(S, 'INTx start 1 (past its single vector)', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE, INTX, 1, 1));
  v.expectErrno(S, 'DATA_EVENTFD without room for the fd (argsz = sizeof)', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | EVENTFD, INTX, 0, 1));

  using e = EventFd.create({ nonBlocking: true });
  setIrqs(ctx, dev, TRIGGER | EVENTFD, INTX, 0, 1, int32Bytes([e.fd]));
  try {
    raise();
    v.expect(S, fired(e, COMES_MS), `${bdf} INTx: edu raised its line (BAR0+0x60), the eventfd fired`);
    ack();
    setIrqs(ctx, dev, UNMASK | NONE, INTX, 0, 1);
    v.expect(S, !fired(e, STAYS_MS), `${bdf} INTx: acked and UNMASK (DATA_NONE): no new interrupt`);

    setIrqs(ctx, dev, MASK | NONE, INTX, 0, 1);
    raise();
    v.expect(S, !fired(e, STAYS_MS), `${bdf} INTx: MASK (DATA_NONE), edu raises: nothing delivered`);
    setIrqs(ctx, dev, UNMASK | NONE, INTX, 0, 1);
    v.expect(S, fired(e, COMES_MS), `${bdf} INTx: UNMASK delivers the pending interrupt`);
    ack();
    setIrqs(ctx, dev, UNMASK | NONE, INTX, 0, 1);
    fired(e, 0);

    setIrqs(ctx, dev, MASK | BOOL, INTX, 0, 1, new Uint8Array([1]));
    raise();
    v.expect(S, !fired(e, STAYS_MS), `${bdf} INTx: MASK (DATA_BOOL 1), edu raises: nothing delivered`);
    setIrqs(ctx, dev, UNMASK | BOOL, INTX, 0, 1, new Uint8Array([1]));
    v.expect(S, fired(e, COMES_MS), `${bdf} INTx: UNMASK (DATA_BOOL 1) delivers it`);
    ack();
    setIrqs(ctx, dev, UNMASK | NONE, INTX, 0, 1);
    fired(e, 0);

    setIrqs(ctx, dev, TRIGGER | NONE, INTX, 0, 1);
    v.expect(S, fired(e, COMES_MS), `${bdf} INTx: TRIGGER (DATA_NONE) loopback fires the eventfd`);
    setIrqs(ctx, dev, UNMASK | NONE, INTX, 0, 1);

    const MSI = k.c('VFIO_PCI_MSI_IRQ_INDEX');
    using other = EventFd.create({ nonBlocking: true });
    v.expectErrno(S, 'enabling MSI while INTx is on', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | EVENTFD, MSI, 0, 1, int32Bytes([other.fd])));
  } finally {
    setIrqs(ctx, dev, TRIGGER | NONE, INTX, 0, 0);
  }
  v.pass(S, `${bdf} INTx: TRIGGER (DATA_NONE, count 0) disables`);
  v.expectErrno(S, 'INTx loopback trigger once disabled', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE, INTX, 0, 1));
}

function msiChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const bdf = dev.entry.bdf;
  const MSI = k.c('VFIO_PCI_MSI_IRQ_INDEX');
  const NONE = k.c('VFIO_IRQ_SET_DATA_NONE');
  const BOOL = k.c('VFIO_IRQ_SET_DATA_BOOL');
  const EVENTFD = k.c('VFIO_IRQ_SET_DATA_EVENTFD');
  const TRIGGER = k.c('VFIO_IRQ_SET_ACTION_TRIGGER');
  const bar0 = dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset;
  const count = dev.irqCounts[MSI] ?? 0;
  if (count === 0) { v.note(S, `${bdf} has no MSI`); return; }

  using e = EventFd.create({ nonBlocking: true });
  v.expectErrno(S, `MSI count ${count + 1} (past the device's ${count})`, 'EINVAL',
    () => setIrqs(ctx, dev, TRIGGER | EVENTFD, MSI, 0, count + 1, int32Bytes(Array(count + 1).fill(e.fd))));
  setIrqs(ctx, dev, TRIGGER | EVENTFD, MSI, 0, 1, int32Bytes([e.fd]));
  try {
    writeRegion(dev.fd, bar0 + 0x60n, 1);
    v.expect(S, fired(e, COMES_MS), `${bdf} MSI: edu raised an MSI (BAR0+0x60), the eventfd fired`);
    writeRegion(dev.fd, bar0 + 0x64n, 1);
    setIrqs(ctx, dev, TRIGGER | NONE, MSI, 0, 1);
    v.expect(S, fired(e, COMES_MS), `${bdf} MSI: TRIGGER (DATA_NONE) loopback fires`);
    setIrqs(ctx, dev, TRIGGER | BOOL, MSI, 0, 1, new Uint8Array([0]));
    v.expect(S, !fired(e, STAYS_MS), `${bdf} MSI: TRIGGER (DATA_BOOL 0) does not fire`);
    setIrqs(ctx, dev, TRIGGER | BOOL, MSI, 0, 1, new Uint8Array([1]));
    v.expect(S, fired(e, COMES_MS), `${bdf} MSI: TRIGGER (DATA_BOOL 1) fires`);
  } finally {
    setIrqs(ctx, dev, TRIGGER | NONE, MSI, 0, 0);
  }
  v.pass(S, `${bdf} MSI: disabled (DATA_NONE, count 0)`);
  v.expectErrno(S, 'MSI loopback trigger once disabled', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE, MSI, 0, 1));
}

function msixChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const bdf = dev.entry.bdf;
  const MSIX = k.c('VFIO_PCI_MSIX_IRQ_INDEX');
  const NONE = k.c('VFIO_IRQ_SET_DATA_NONE');
  const BOOL = k.c('VFIO_IRQ_SET_DATA_BOOL');
  const EVENTFD = k.c('VFIO_IRQ_SET_DATA_EVENTFD');
  const TRIGGER = k.c('VFIO_IRQ_SET_ACTION_TRIGGER');
  const n = Math.min(dev.irqCounts[MSIX] ?? 0, 8);
  const fds = Array.from({ length: n }, () => EventFd.create({ nonBlocking: true }));
  /** Which vectors fired (clearing them). */
  const firedSet = () => {
    fds[0]!.wait(STAYS_MS);
    return fds.map((f, i) => (f.tryRead() !== undefined ? i : -1)).filter((i) => i >= 0);
  };
  try {
    setIrqs(ctx, dev, TRIGGER | EVENTFD, MSIX, 0, n, int32Bytes(fds.map((f) => f.fd)));
    try {
      v.pass(S, `${bdf} MSI-X: ${n} vectors on ${n} eventfds`);
      const one = Math.min(2, n - 1);
      setIrqs(ctx, dev, TRIGGER | NONE, MSIX, one, 1);
      fds[one]!.wait(COMES_MS);
      const a = firedSet();
      v.expect(S, a.length === 1 && a[0] === one, `${bdf} MSI-X: TRIGGER DATA_NONE start ${one} count 1: exactly vector ${one} fired`, `fired: ${a.join(',')}`);
      const bools = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
      setIrqs(ctx, dev, TRIGGER | BOOL, MSIX, 0, n, new Uint8Array(bools));
      fds[0]!.wait(COMES_MS);
      const b = firedSet();
      const want = bools.map((x, i) => (x ? i : -1)).filter((i) => i >= 0);
      v.expect(S, b.join(',') === want.join(','), `${bdf} MSI-X: TRIGGER DATA_BOOL [${bools}]: vectors ${want.join(',')} fired`, `fired: ${b.join(',')}`);
      if (n > 1) {
        setIrqs(ctx, dev, TRIGGER | EVENTFD, MSIX, 1, 1, int32Bytes([-1]));
        setIrqs(ctx, dev, TRIGGER | NONE, MSIX, 0, n);
        fds[0]!.wait(COMES_MS);
        const c = firedSet();
        v.expect(S, !c.includes(1) && c.includes(0), `${bdf} MSI-X: vector 1 detached (eventfd -1): a DATA_NONE trigger of all reaches ${c.join(',')}, not 1`);
      }
    } finally {
      setIrqs(ctx, dev, TRIGGER | NONE, MSIX, 0, 0);
    }
    v.pass(S, `${bdf} MSI-X: disabled`);
    v.expectErrno(S, 'MSI-X loopback trigger once disabled', 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE, MSIX, 0, 1));
  } finally {
    for (const f of fds) f.close();
  }
}

function errReqChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const NONE = k.c('VFIO_IRQ_SET_DATA_NONE');
  const EVENTFD = k.c('VFIO_IRQ_SET_DATA_EVENTFD');
  const TRIGGER = k.c('VFIO_IRQ_SET_ACTION_TRIGGER');
  for (const [name, index] of [['ERR', k.c('VFIO_PCI_ERR_IRQ_INDEX')], ['REQ', k.c('VFIO_PCI_REQ_IRQ_INDEX')]] as const) {
    if ((dev.irqCounts[index] ?? 0) === 0) {
      v.expectErrno(S, `${dev.entry.bdf} ${name}: count 0, setting it`, 'EINVAL', () => setIrqs(ctx, dev, TRIGGER | NONE, index, 0, 1));
      continue;
    }
    using e = EventFd.create({ nonBlocking: true });
    setIrqs(ctx, dev, TRIGGER | EVENTFD, index, 0, 1, int32Bytes([e.fd]));
    setIrqs(ctx, dev, TRIGGER | NONE, index, 0, 1);
    v.expect(S, fired(e, COMES_MS), `${dev.entry.bdf} ${name}: eventfd set, TRIGGER (DATA_NONE) fires it`);
    setIrqs(ctx, dev, TRIGGER | EVENTFD, index, 0, 1, int32Bytes([-1]));
  }
}
