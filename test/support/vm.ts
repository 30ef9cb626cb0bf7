// A kexec target for the deploy tests: QEMU (TCG, no KVM needed) booting this machine's Debian
// kernel with a small initramfs built here: busybox, dropbear as the SSH server, kexec-tools and
// the virtio NIC modules. SSH reaches it through a loopback port forward only.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

const sh = (cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) =>
  execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], ...opts }).toString();

export function kernelImage(): string | undefined {
  const boot = existsSync("/boot") ? readdirSync("/boot").filter((f) => f.startsWith("vmlinuz-")).sort() : [];
  return boot.length ? join("/boot", boot[boot.length - 1]!) : undefined;
}

export const haveVmTools = () =>
  !!kernelImage() && ["/usr/bin/qemu-system-x86_64", "/usr/bin/busybox", "/usr/sbin/dropbear", "/usr/bin/dropbearconvert", "/usr/sbin/kexec", "/usr/bin/cpio"].every((p) => existsSync(p));

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
    for (const applet of sh("/usr/bin/busybox", ["--list"]).split("\n").filter(Boolean))
      if (!existsSync(join(root, "bin", applet))) symlinkSync("busybox", join(root, "bin", applet));
    copyWithLibs("/usr/sbin/dropbear", root, "/sbin/dropbear");
    copyWithLibs("/usr/sbin/kexec", root, "/sbin/kexec");
    const kver = basename(kernelImage()!).replace(/^vmlinuz-/, "");
    for (const m of ["net/core/failover", "drivers/net/net_failover", "drivers/net/virtio_net"]) {
      // Debian compresses modules with xz on newer kernels; older ones ship them plain.
      const src = join("/lib/modules", kver, "kernel", `${m}.ko`);
      const dest = join(root, "lib/modules-hearth", `${basename(m)}.ko`);
      if (existsSync(src)) copyFileSync(src, dest);
      else writeFileSync(dest, execFileSync("xz", ["-dc", `${src}.xz`]));
    }
    const keyFile = join(root, "tmp", "openssh_key");
    writeFileSync(keyFile, o.hostKey, { mode: 0o600 });
    sh("dropbearconvert", ["openssh", "dropbear", keyFile, join(root, "etc/dropbear/host_key")]);
    rmSync(keyFile);
    writeFileSync(join(root, "root/.ssh/authorized_keys"), o.authorizedKey + "\n", { mode: 0o600 });
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/shells"), "/bin/sh\n");
    writeFileSync(join(root, "etc/generation"), o.generation + "\n");
    writeFileSync(
      join(root, "init"),
      `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
for m in failover net_failover virtio_net; do insmod /lib/modules-hearth/$m.ko; done
ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
echo "hearth test system $(cat /etc/generation) up" > /dev/console
dropbear -r /etc/dropbear/host_key -F -E -p 22 -s &
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

/** A kexec tree like hearth's format: bzImage, initrd and the kexec-boot script. */
export function kexecTree(dir: string, initrd: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(kernelImage()!, join(dir, "bzImage"));
  copyFileSync(initrd, join(dir, "initrd"));
  writeFileSync(join(dir, "kexec-boot"), `#!/bin/sh\ncd "$(dirname "$0")"\n/sbin/kexec -l ./bzImage --initrd=./initrd --command-line="console=ttyS0 panic=-1 random.trust_cpu=on" && sync && /sbin/kexec -e\n`, { mode: 0o755 });
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
  return {
    port,
    console: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    stop: () => {
      q.kill("SIGKILL");
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
