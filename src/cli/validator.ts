// `hearth validator …`: a staker's keys. Keystores come from files, their password from a prompt,
// a pipe or a file; never from argv, never in clear on disk.
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { readSecret } from "./prompt.js";
import { CliError, out } from "./common.js";
import { identities, loadStore, wrap } from "./secrets.js";

export function registerValidator(program: Command): void {
  const cmd = program.command("validator").description("validator keys: import keystores for a host");
  cmd
    .command("import")
    .description("import EIP-2335 keystores (staking-deposit-cli's keystore-m_….json) for the validator client of HOST: checked, age-encrypted to that host, listed under services.validator.keys")
    .argument("<keystore...>", "keystore files")
    .requiredOption("--host <name>", "host whose validator client signs with them")
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("--password-file <file>", "file holding the keystores' password (else a prompt, or stdin when it is a pipe)")
    .action(
      wrap(async (files: string[], opts: { host: string; fleet: string; passwordFile?: string }) => {
        const keystores = files.map((f) => {
          try {
            return { name: basename(f), text: readFileSync(resolve(f), "utf8") };
          } catch (e) {
            throw new CliError(`${f}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}; nothing was imported`);
          }
        });
        const password = opts.passwordFile
          ? Buffer.from(readFileSync(resolve(opts.passwordFile), "utf8").replace(/\r?\n$/, ""), "utf8")
          : await readSecret("keystore password: ", { trimNewline: true });
        const { importValidators } = await import("../node/validators/import.js");
        const r = await importValidators({ dir: resolve(opts.fleet), host: opts.host, keystores, password });
        for (const pk of r.imported) out(`imported ${pk} for ${opts.host}`);
        for (const pk of r.unchanged) out(`unchanged ${pk} (already imported for ${opts.host})`);
        out(`${r.file}: services.validator.keys lists ${r.imported.length + r.unchanged.length} key(s) from this import; next: hearth generate, then deploy ${opts.host}`);
      }),
    );

  cmd
    .command("move")
    .description("move validators to another host's validator client without ever signing twice: stop the old client, export its slashing protection (EIP-3076), import it into the new one and check it, then move the keys in the fleet")
    .argument("<pubkey...>", "validator public keys (0x…)")
    .requiredOption("--to <host>", "host whose validator client takes them")
    .requiredOption("--confirm <host>", "type the target host's name again: this moves live validators")
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("-i, --identity <file...>", "admin identity, to re-encrypt the keys to the new host")
    .option("--ssh-key <file>", "private key to log in with")
    .action(
      wrap(async (pubkeys: string[], opts: { to: string; confirm: string; fleet: string; identity?: string[]; sshKey?: string }) => {
        const { moveValidators, sshValidatorHost } = await import("../node/validators/move.js");
        const { hostTarget } = await import("../node/deploy/target.js");
        const { SshSession } = await import("../node/deploy/ssh.js");
        const store = loadStore(opts.fleet);
        const sessions: InstanceType<typeof SshSession>[] = [];
        try {
          await moveValidators({
            dir: resolve(opts.fleet),
            pubkeys,
            to: opts.to,
            confirm: opts.confirm,
            identities: await identities(opts.identity),
            connect: (host) => {
              const s = new SshSession(hostTarget(store.fleet, store.manifest, host, opts.sshKey ? { identityFile: resolve(opts.sshKey) } : {}));
              sessions.push(s);
              return sshValidatorHost(host, s);
            },
            log: out,
          });
        } finally {
          for (const s of sessions) s.close();
        }
      }),
    );
}
