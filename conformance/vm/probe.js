// Guest probe for the VM harness (plain JS, runs inside the guest under the
// host's node): reports the kernel, /dev/vfio, the bound devices, and whether
// the VFIO container can be opened.
import fs from 'node:fs';
import os from 'node:os';

const out = {
  guest: process.env.VFIO_UAPI_GUEST === '1',
  suite: process.env.VFIO_UAPI_SUITE ?? null,
  uname: os.release(),
  node: process.version,
  devVfio: [],
  devices: JSON.parse(process.env.VFIO_UAPI_DEVICES ?? '[]'),
  drivers: {},
  openContainer: { ok: false },
};
try {
  out.devVfio = fs.readdirSync('/dev/vfio').sort();
} catch (e) {
  out.devVfio = { error: String(e) };
}
for (const d of out.devices) {
  try {
    out.drivers[d.bdf] = fs.readlinkSync(`/sys/bus/pci/devices/${d.bdf}/driver`).split('/').pop();
  } catch (e) {
    out.drivers[d.bdf] = null;
  }
}
try {
  const fd = fs.openSync('/dev/vfio/vfio', 'r+');
  out.openContainer = { ok: true, fd };
  fs.closeSync(fd);
} catch (e) {
  out.openContainer = { ok: false, error: String(e) };
}
fs.writeFileSync(process.env.VFIO_UAPI_RESULT, JSON.stringify(out, null, 2));
console.log(`probe: ${out.uname}, /dev/vfio: ${JSON.stringify(out.devVfio)}, container open: ${out.openContainer.ok}`);
