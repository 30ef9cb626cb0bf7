// hearth's command line: parses arguments, calls the pure core, and hands writes to the executor.
import { NIXOS_RELEASE, PINS } from "../core/nix/input-pins.js";
import { Argument, Command, Option } from "commander";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { fleetSchema, hostSchema } from "../core/schema/fleet.js";
import { evalPath } from "../core/plan/eval.js";
import { instantiateTemplate, parseValue, setInYaml, splitPath, ValueRefused } from "../core/fleet/edit.js";
import { REPO_ROOT, readFleetFile, validateFleetDir } from "../node/fleet-dir.js";
import { isHostName } from "../core/schema/common.js";
import { CliError, err, lexists, out, planFor, reportIssues, validated, writeMeshAddresses } from "./common.js";
import { registerMesh } from "./mesh.js";
import { registerServe } from "./serve.js";
import { registerDeploy, registerDeployCommand } from "./deploy.js";
import { registerInit, registerSecrets } from "./secrets.js";
import { registerValidator } from "./validator.js";
import { registerPull } from "./pull.js";
import { registerImage } from "./image.js";
import { applyChanges, checkOutputDir, compareFiles, unifiedDiff } from "../node/apply-files.js";
import { recordMeshAddresses } from "../node/fleet-plan.js";
import { UserError } from "../node/errors.js";
import { writeFileAtomic } from "../node/fs-atomic.js";

const program = new Command("hearth")
  .description("Declarative personal infrastructure: one fleet description to a NixOS flake")
  .showHelpAfterError()
  .exitOverride();

program
  .command("validate")
  .description("check the fleet description and report every problem with file, path and line")
  .argument("[fleet]", "fleet directory", ".")
  .action((dir: string) => {
    const v = validateFleetDir(resolve(dir));
    reportIssues(v.issues);
    if (!v.ok) throw new CliError("", 1);
    out(`${v.fleet!.name}: ${v.fleet!.hosts.size} host(s) valid`);
  });

program
  .command("generate")
  .description("write the fleet's NixOS flake (only changed files are rewritten, stale generated files removed)")
  .argument("[fleet]", "fleet directory", ".")
  .option("-o, --out <dir>", "output directory (default: <fleet>/flake)")
  .option("--dry-run", "print what would change, write nothing")
  .action((dir: string, opts: { out?: string; dryRun?: boolean }) => {
    const fleetDir = resolve(dir);
    const outDir = resolve(opts.out ?? join(fleetDir, "flake"));
    userErrors(() => checkOutputDir(fleetDir, outDir));
    const p = planFor(fleetDir);
    const changes = userErrors(() => compareFiles(outDir, p.files));
    // Refuse (a directory hearth does not own) before listing changes that will not happen.
    if (!opts.dryRun) userErrors(() => applyChanges(outDir, changes));
    for (const c of changes) if (c.action !== "unchanged") out(`${opts.dryRun ? "would " : ""}${c.action} ${c.path}`);
    const n = changes.filter((c) => c.action !== "unchanged").length;
    if (p.mesh && !opts.dryRun && writeMeshAddresses(fleetDir, p.mesh.addresses)) out(`recorded mesh addresses in mesh/addresses.json${p.mesh.allocated.length ? ` (new: ${p.mesh.allocated.join(", ")})` : ""}`);
    out(`${opts.dryRun ? "dry run: " : ""}${n} file(s) ${opts.dryRun ? "would change" : "changed"}, ${changes.length - n} unchanged, in ${outDir}`);
  });

program
  .command("diff")
  .description("show what `hearth generate` would change, as a unified diff")
  .argument("[fleet]", "fleet directory", ".")
  .option("-o, --out <dir>", "output directory (default: <fleet>/flake)")
  .action((dir: string, opts: { out?: string }) => {
    const fleetDir = resolve(dir);
    const outDir = resolve(opts.out ?? join(fleetDir, "flake"));
    userErrors(() => checkOutputDir(fleetDir, outDir));
    const changes = userErrors(() => compareFiles(outDir, planFor(fleetDir).files));
    const d = unifiedDiff(changes);
    out(d || "no changes");
  });

program
  .command("eval")
  .description("answer a question about a host from hearth's plan, e.g. services.lighthouse.execStart")
  .argument("<host>", "host name")
  .argument("<path>", "dotted path")
  .option("-f, --fleet <dir>", "fleet directory", ".")
  .option("--json", "print JSON")
  .action((host: string, path: string, opts: { fleet: string; json?: boolean }) => {
    // A question about the configuration; it does not need the secrets' values to exist.
    const p = planFor(resolve(opts.fleet), { requireSecrets: false });
    const h = p.hosts.find((x) => x.name === host);
    if (!h) throw new CliError(`no host '${host}' in the fleet (hosts: ${p.hosts.map((x) => x.name).join(", ")})`);
    const r = evalPath(h, path);
    if (!r.found) throw new CliError(`${r.message}${r.hint ? `\n    hint: ${r.hint}` : ""}`);
    out(opts.json || typeof r.value !== "string" ? JSON.stringify(r.value, null, opts.json ? 2 : 0) : r.value);
  });

program
  .command("schema")
  .description("print the JSON Schema of fleet.yaml or of a host file, for editors and forms")
  .addArgument(new Argument("[kind]", "fleet or host").choices(["fleet", "host"]).default("host"))
  .action((kind: "fleet" | "host") => {
    const s = z.toJSONSchema(kind === "fleet" ? fleetSchema : hostSchema, { io: "input", unrepresentable: "any" });
    out(JSON.stringify({ ...s, title: kind === "fleet" ? "hearth fleet.yaml" : "hearth host" }, null, 2));
  });

program
  .command("pins")
  .description("the flake inputs a generated fleet is pinned to: release, date and URL of each")
  .option("--json", "as JSON")
  .action((opts: { json?: boolean }) => {
    if (opts.json) {
      out(JSON.stringify({ nixos: NIXOS_RELEASE, inputs: PINS }, null, 2));
      return;
    }
    out(`NixOS ${NIXOS_RELEASE} (fleet.yaml nixpkgs.channel / nixpkgs.rev choose another)`);
    for (const [name, p] of Object.entries(PINS)) out(`  ${name.padEnd(15)} ${p.release.padEnd(40)} ${p.date}  ${p.url}${p.followsNixpkgs ? "  (follows nixpkgs)" : ""}`);
  });

const hostCmd = program.command("host").description("manage hosts");
hostCmd
  .command("add")
  .description("create hosts/NAME.yaml from a template")
  .argument("<name>", "host name")
  .addOption(new Option("-t, --template <template>", "template name").default("server"))
  .option("-f, --fleet <dir>", "fleet directory", ".")
  .option("--dry-run", "print the new file, write nothing")
  .action((name: string, opts: { template: string; fleet: string; dryRun?: boolean }) => {
    const dir = resolve(opts.fleet);
    const tdir = join(REPO_ROOT, "templates");
    const tfile = join(tdir, `${opts.template}.yaml`);
    if (!existsSync(tfile)) {
      const names = existsSync(tdir) ? templateNames(tdir) : [];
      throw new CliError(`no template '${opts.template}'; available: ${names.join(", ")}`);
    }
    checkHostName(name);
    const file = `hosts/${name}.yaml`;
    if (lexists(join(dir, file)) || lexists(join(dir, `hosts/${name}.yml`))) throw new CliError(`${file} exists already; choose another name or edit it`);
    const text = instantiateTemplate(readFileSync(tfile, "utf8"), name);
    validated(dir, { [file]: text });
    if (opts.dryRun) {
      out(text);
      return;
    }
    // The others' mesh addresses are recorded first, so the new host takes a free one instead of renumbering them.
    recordMeshAddresses(dir, validateFleetDir(dir));
    writeFileAtomic(join(dir, file), text);
    const mesh = recordMeshAddresses(dir, validateFleetDir(dir));
    out(`created ${file} from template ${opts.template}`);
    const member = mesh?.plan.byName.get(name);
    if (member) out(`mesh address of ${name}: ${member.ipv4}${mesh!.provisional.has(name) ? " (provisional until the fleet is valid)" : " (recorded in mesh/addresses.json)"}`);
  });
hostCmd
  .command("list")
  .description("list hosts")
  .option("-f, --fleet <dir>", "fleet directory", ".")
  .action((opts: { fleet: string }) => {
    const v = validated(resolve(opts.fleet));
    for (const [n, h] of v.fleet.hosts) out(`${n}\t${h.system}\t${h.hardware}\t${h.ephemeral ? "ephemeral" : "installed"}\t${h.tags.join(",")}`);
  });

program
  .command("set")
  .description("set a field in a host file (or in fleet.yaml with HOST '.'), keeping comments; validated before writing")
  .argument("<host>", "host name, or '.' for fleet.yaml")
  .argument("<path>", "dotted path, e.g. services.consensus.client")
  .argument("<value>", "YAML value; 'null' removes the field")
  .option("-f, --fleet <dir>", "fleet directory", ".")
  .option("--dry-run", "print the changed file, write nothing")
  .action((host: string, path: string, value: string, opts: { fleet: string; dryRun?: boolean }) => {
    const dir = resolve(opts.fleet);
    if (host !== ".") checkHostName(host);
    const file = host === "." ? "fleet.yaml" : lexists(join(dir, `hosts/${host}.yml`)) ? `hosts/${host}.yml` : `hosts/${host}.yaml`;
    // Read (and so write back) only a regular file inside the fleet, never through a link out of it.
    const current = readFleetFile(dir, file);
    if (!current.ok) throw new CliError(current.missing && host !== "." ? `${file} does not exist; create the host with 'hearth host add ${host}'` : `${file} ${current.message}\n    hint: ${current.hint}`);
    let segs: (string | number)[];
    try {
      segs = splitPath(path);
    } catch (e) {
      throw new CliError(`${(e as Error).message}; write paths like services.consensus.ports.http or network.addresses[0]`, 2);
    }
    let parsed: unknown;
    try {
      parsed = parseValue(value);
    } catch (e) {
      if (e instanceof ValueRefused) throw new CliError(e.message, 2);
      throw e;
    }
    const text = setInYaml(current.text, segs, parsed);
    validated(dir, { [file]: text });
    if (opts.dryRun) {
      out(text);
      return;
    }
    writeFileAtomic(join(dir, file), text);
    out(`set ${path} in ${file}`);
  });

registerSecrets(program);
registerValidator(program);
registerMesh(program);
registerInit(program);
registerServe(program);
registerDeploy(program);
registerDeployCommand(program);
registerPull(program);
registerImage(program);

/** The host-name rule of the schema, before a name becomes a path (`../x`, `a/b`, `/abs`, NUL). */
function checkHostName(name: string): void {
  if (!isHostName(name))
    throw new CliError(`${JSON.stringify(name)} is not a valid host name\n    hint: a DNS label: lower-case letters, digits and '-', at most 63 characters, e.g. node-1`, 2);
}

/** Run `fn`; a UserError (a refusal the user can act on) becomes the CLI's error, without a stack trace. */
function userErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) throw new CliError(e.message);
    throw e;
  }
}

const templateNames = (dir: string): string[] =>
  readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => f.replace(/\.yaml$/, ""));

/** Runs one command line (bin/hearth.js calls it); the exit status goes to process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  // `hearth … | head` closes the pipe early; that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CliError) {
      if (e.message) err(`hearth: ${e.message}`);
      process.exitCode = e.code;
    } else if (e && typeof e === "object" && "exitCode" in e && "code" in e && String((e as { code: string }).code).startsWith("commander.")) {
      process.exitCode = (e as { exitCode: number }).exitCode === 0 ? 0 : 2;
    } else {
      err(`hearth: internal error (a bug): ${(e as Error).stack ?? e}`);
      process.exitCode = 70;
    }
  }
}
