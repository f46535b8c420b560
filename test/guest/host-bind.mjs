// Guest script of test/host-bind.test.ts (plain JS, runs inside the VM under the host's node, as root).
// The device under test is the one PCI device of vendor:device argv[2] that the init left on its own driver.
// Runs the real CLI, `vfio-uapi conformance --host --device BDF --bind`, three times:
//   1. to completion;
//   2. SIGTERM to the CLI's pid once the suite runs on the device (its first stage line);
//   3. SIGINT to the CLI's process group (as a terminal's Ctrl-C does) at the same point.
// After each: the device's driver and driver_override, what is left in the run's TMPDIR, and any suite process
// still alive. Writes everything to $VFIO_UAPI_RESULT; the test judges.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'bin', 'vfio-uapi.js');
const [vendor, device] = (process.argv[2] ?? '').split(':');
/** Reported if the CLI has not exited this long after the signal (a hang); it is then SIGKILLed. */
const HANG_MS = 600_000;

const bdf = readdirSync('/sys/bus/pci/devices').find((d) => {
  const read = (f) => readFileSync(`/sys/bus/pci/devices/${d}/${f}`, 'utf8').trim();
  return read('vendor') === vendor && read('device') === device;
});
const sys = `/sys/bus/pci/devices/${bdf}`;
const driver = () => (existsSync(`${sys}/driver`) ? path.basename(readlinkSync(`${sys}/driver`)) : null);
const override = () => readFileSync(`${sys}/driver_override`, 'utf8').trim();

/** Pids of processes (other than us) whose command line names the suite's guest script. */
function suiteProcesses() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
    if (cmdline.includes('conformance/suite/guest.js')) found.push(Number(pid));
  }
  return found;
}

/**
 * Runs the CLI with its own TMPDIR. With `signal`, sends it (to the pid, or with `group` to the process group)
 * once the suite has started on the device, as the CLI's stage lines on stderr show.
 */
function runCli(name, signal, group) {
  const tmp = path.join(process.env.TMPDIR, name);
  mkdirSync(tmp);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'conformance', '--host', '--device', bdf, '--bind'], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group,
    });
    const out = { name, signalSent: null, driverWhenSignalled: null, tmpWhenSignalled: null, hung: false };
    let stdout = '';
    let stderr = '';
    let seenRunning = false;
    let hangTimer;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderr += d;
      process.stderr.write(d);
      if (!signal || out.signalSent) return;
      const lines = stderr.split('\n').slice(0, -1);
      const at = lines.findIndex((l) => l.startsWith('[host] running the suite on'));
      seenRunning = at >= 0;
      // A stage line after "running the suite": the suite's process has the device open.
      if (!seenRunning || !lines.slice(at + 1).some((l) => l.startsWith('[host] '))) return;
      out.driverWhenSignalled = driver();
      out.tmpWhenSignalled = readdirSync(tmp);
      out.suiteProcessesWhenSignalled = suiteProcesses().length;
      out.signalSent = signal;
      process.kill(group ? -child.pid : child.pid, signal);
      hangTimer = setTimeout(() => {
        out.hung = true;
        out.suiteProcessesWhenHung = suiteProcesses().length;
        out.driverWhenHung = driver();
        child.kill('SIGKILL');
      }, HANG_MS);
    });
    // The CLI's own end: its suite process must be gone by then (not merely by the time its pipes close).
    child.on('exit', () => { out.suiteProcessesAtExit = suiteProcesses(); out.driverAtExit = driver(); });
    child.on('close', (code, sig) => {
      clearTimeout(hangTimer);
      resolve({
        ...out,
        code,
        signal: sig,
        driverAfter: driver(),
        overrideAfter: override(),
        tmpLeft: readdirSync(tmp),
        suiteProcessesAfter: suiteProcesses(),
        stdoutTail: stdout.slice(-1500),
        stderrTail: stderr.slice(-3000),
      });
    });
  });
}

const result = { bdf: bdf ?? null, original: null, overrideBefore: null, runs: [] };
if (bdf) {
  result.original = driver();
  result.overrideBefore = override();
  result.runs.push(await runCli('complete', null, false));
  result.runs.push(await runCli('sigterm', 'SIGTERM', false));
  result.runs.push(await runCli('sigint', 'SIGINT', true));
}
writeFileSync(process.env.VFIO_UAPI_RESULT, JSON.stringify(result));
