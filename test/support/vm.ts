// A kexec target for the deploy tests: QEMU (TCG, no KVM needed) booting this machine's Debian
// kernel with a small initramfs built here: busybox, bash, dropbear as the SSH server, kexec-tools
// and the virtio modules with their dependencies. SSH reaches it through a loopback port forward
// only. Its init says `hearth-vm: network up` or `hearth-vm: FAILED <why>` on the console.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { KexecTreeEval } from "./kexec-tree.js";

const sh = (cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) =>
  execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], ...opts }).toString();

export function kernelImage(): string | undefined {
  const boot = existsSync("/boot") ? readdirSync("/boot").filter((f) => f.startsWith("vmlinuz-")).sort() : [];
  return boot.length ? join("/boot", boot[boot.length - 1]!) : undefined;
}

export const haveVmTools = () =>
  !!kernelImage() && ["/usr/bin/qemu-system-x86_64", "/usr/bin/busybox", "/usr/sbin/dropbear", "/usr/bin/dropbearconvert", "/usr/sbin/kexec", "/usr/bin/cpio", "/bin/bash"].every((p) => existsSync(p));

const kernelVersion = () => basename(kernelImage()!).replace(/^vmlinuz-/, "");

// virtio_pci finds the devices, virtio_net is the NIC, virtio_rng feeds dropbear's entropy.
const VM_MODULES = ["virtio_pci", "virtio_net", "virtio_rng"];

/**
 * The module files `names` need, dependencies first (from modules.dep, recursively): on Debian's
 * kernel virtio_net alone does not load, virtio and virtio_ring are modules too.
 */
export function modulesWithDeps(kver: string, names: string[]): string[] {
  const dir = join("/lib/modules", kver);
  const modName = (file: string) => basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, "").replace(/-/g, "_");
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(join(dir, "modules.dep"), "utf8").split("\n")) {
    const [file, rest] = line.split(":");
    if (file && rest !== undefined) deps.set(modName(file), { file, deps: rest.trim().split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set((existsSync(join(dir, "modules.builtin")) ? readFileSync(join(dir, "modules.builtin"), "utf8") : "").split("\n").filter(Boolean).map(modName));
  const out: string[] = [];
  const visit = (name: string) => {
    const m = deps.get(name);
    if (!m) {
      if (builtin.has(name)) return;
      throw new Error(`kernel ${kver} has no module ${name} (not in ${dir}/modules.dep nor built in)`);
    }
    if (out.includes(m.file)) return;
    for (const d of m.deps) visit(modName(d));
    if (!out.includes(m.file)) out.push(m.file);
  };
  for (const n of names) visit(n);
  return out.map((f) => join(dir, f));
}

function moduleBytes(file: string): Buffer {
  if (file.endsWith(".ko")) return readFileSync(file);
  const tool = file.endsWith(".xz") ? "xz" : file.endsWith(".zst") ? "zstd" : "gzip";
  return execFileSync(tool, ["-dc", file], { maxBuffer: 256 * 1024 * 1024 });
}

function copyWithLibs(bin: string, root: string, dest: string) {
  mkdirSync(join(root, dirname(dest)), { recursive: true });
  copyFileSync(bin, join(root, dest));
  for (const line of sh("ldd", [bin]).split("\n")) {
    const lib = /=>\s+(\S+)/.exec(line)?.[1] ?? /^\s+(\/\S+)/.exec(line)?.[1];
    if (!lib || !existsSync(lib)) continue;
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    if (!existsSync(join(root, lib))) copyFileSync(lib, join(root, lib));
  }
}

/**
 * An initramfs whose SSH server presents `hostKey` (OpenSSH private key file) and lets in
 * `authorizedKey`; `generation` is written to /etc/generation so a test can tell systems apart.
 */
export function buildInitramfs(o: { hostKey: Buffer; authorizedKey: string; generation: string; out: string }): void {
  const root = mkdtempSync(join(tmpdir(), "hearth-initramfs-"));
  try {
    for (const d of ["bin", "sbin", "etc/dropbear", "proc", "sys", "dev", "root/.ssh", "tmp", "lib/modules-hearth", "run", "var/log"]) mkdirSync(join(root, d), { recursive: true });
    copyFileSync("/usr/bin/busybox", join(root, "bin/busybox"));
    // nixpkgs' kexec-boot script is `#!/usr/bin/env bash` (bash before the applets: no link to overwrite).
    copyWithLibs("/bin/bash", root, "/bin/bash");
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    symlinkSync("/bin/busybox", join(root, "usr/bin/env"));
    for (const applet of sh("/usr/bin/busybox", ["--list"]).split("\n").filter(Boolean))
      if (!existsSync(join(root, "bin", applet))) symlinkSync("busybox", join(root, "bin", applet));
    copyWithLibs("/usr/sbin/dropbear", root, "/sbin/dropbear");
    copyWithLibs("/usr/sbin/kexec", root, "/sbin/kexec");
    const order: string[] = [];
    for (const file of modulesWithDeps(kernelVersion(), VM_MODULES)) {
      const name = basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, "");
      writeFileSync(join(root, "lib/modules-hearth", `${name}.ko`), moduleBytes(file));
      order.push(name);
    }
    const keyFile = join(root, "tmp", "openssh_key");
    writeFileSync(keyFile, o.hostKey, { mode: 0o600 });
    sh("dropbearconvert", ["openssh", "dropbear", keyFile, join(root, "etc/dropbear/host_key")]);
    rmSync(keyFile);
    writeFileSync(join(root, "root/.ssh/authorized_keys"), o.authorizedKey + "\n", { mode: 0o600 });
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/shells"), "/bin/sh\n");
    writeFileSync(join(root, "etc/generation"), o.generation + "\n");
    // A system that cannot come up says so and powers off (QEMU exits): no test waits minutes for it.
    writeFileSync(
      join(root, "init"),
      `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
fail() { echo "hearth-vm: FAILED $*" > /dev/console; sleep 1; poweroff -f; exit 1; }
echo "hearth-vm: $(cat /etc/generation) booted, cmdline: $(cat /proc/cmdline)" > /dev/console
for m in ${order.join(" ")}; do
  insmod /lib/modules-hearth/$m.ko 2>/tmp/insmod.err || grep -q 'File exists' /tmp/insmod.err || fail "insmod $m: $(cat /tmp/insmod.err)"
done
i=0; while [ ! -e /sys/class/net/eth0 ]; do i=$((i+1)); [ $i -le 100 ] || fail "no eth0 after loading ${order.join(" ")}"; sleep 0.1; done
ip link set lo up; ip link set eth0 up || fail "ip link set eth0 up"
ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || fail "ip addr/route on eth0"
echo "hearth-vm: network up" > /dev/console
dropbear -r /etc/dropbear/host_key -F -E -p 22 -s &
sleep 1; kill -0 $! 2>/dev/null || fail "dropbear exited"
echo "hearth test system $(cat /etc/generation) up" > /dev/console
while true; do sleep 3600; done
`,
      { mode: 0o755 },
    );
    const list = sh("find", [".", "-print0"], { cwd: root });
    const cpio = execFileSync("cpio", ["--null", "-o", "-H", "newc", "--quiet"], { cwd: root, input: list, maxBuffer: 512 * 1024 * 1024 });
    writeFileSync(o.out, execFileSync("gzip", ["-1"], { input: cpio, maxBuffer: 512 * 1024 * 1024 }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The kexec tree hearth's format builds, file for file: each entry of the evaluated tree under
 * its own name, the kernel ones being this machine's kernel and the initrd ones `initrd`, and
 * nixpkgs' scripts verbatim. (Their init=<toplevel>/init is moot: the kernel runs the initramfs's /init.)
 */
export function kexecTree(dir: string, tree: KexecTreeEval, initrd: string): void {
  mkdirSync(dir, { recursive: true });
  for (const e of tree.entries) {
    const dest = join(dir, e.name);
    if (e.role === "kernel") copyFileSync(kernelImage()!, dest);
    else if (e.role === "initrd") copyFileSync(initrd, dest);
    else if (e.role === "kexec-boot") writeFileSync(dest, tree.kexecScript, { mode: 0o755 });
    else if (e.role === "netboot.ipxe") writeFileSync(dest, tree.ipxeScript);
    else throw new Error(`kexec tree entry ${e.name} → ${e.path}: not a file the test knows how to stand in for`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export interface Vm {
  port: number;
  console(): string;
  /** Why the VM cannot come up: its init's FAILED line, or QEMU having exited. */
  failure(): string | undefined;
  stop(): void;
}

export async function bootVm(initrd: string): Promise<Vm> {
  const port = await freePort();
  // The console goes to a file, not a pipe: tests run hearth with spawnSync, which blocks this
  // process's event loop, and a full pipe would stall QEMU's serial port and so the guest.
  const logDir = mkdtempSync(join(tmpdir(), "hearth-vm-"));
  const logFile = join(logDir, "console.log");
  const fd = openSync(logFile, "w");
  const q: ChildProcess = spawn(
    "qemu-system-x86_64",
    ["-machine", "q35", "-cpu", "max", "-m", "768", "-smp", "1", "-kernel", kernelImage()!, "-initrd", initrd, "-append", "console=ttyS0 panic=-1 random.trust_cpu=on", "-nographic", "-no-reboot", "-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`, "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci"],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  let exited: string | undefined;
  q.on("exit", (code, signal) => (exited = `QEMU exited (${signal ?? `code ${code}`})`));
  q.on("error", (e) => (exited = `QEMU did not run: ${e.message}`));
  const consoleText = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  return {
    port,
    console: consoleText,
    failure: () => /^hearth-vm: FAILED .*$/m.exec(consoleText())?.[0] ?? exited,
    stop: () => {
      q.kill("SIGKILL");
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
