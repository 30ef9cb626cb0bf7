// `hearth image CLASS`: builds a node class's boot media (fleet.yaml `images:`) from the generated
// flake with `nix build`, and lists every file built with its sha256. The image is the same for
// every host of the class, so it needs none of the hosts' secrets.
import { Command } from "commander";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { CliError, out, planFor } from "./common.js";
import { wrap } from "./secrets.js";
import { IMAGE_FORMAT_INFO } from "../core/features/formats.js";
import { imageBuildArgv, imagePackage } from "../core/plan/image.js";
import { didYouMean } from "../core/validate/issues.js";
import { IMAGE_FORMATS, type ImageFormat } from "../core/schema/fleet.js";
import { checkOutputDir, compareFiles } from "../node/apply-files.js";
import { writeFlake } from "../node/fleet-plan.js";
import { copyArtifacts, INSTALL_HINT, parseOutPaths } from "../server/jobs/runner.js";

interface Artifact {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

/** A command line as a shell would take it back (what --dry-run prints). */
export const shellLine = (argv: string[]) => argv.map((a) => (/^[A-Za-z0-9_@%+=:,./#-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** The files of built store paths as the server lists a build's artifacts: a file, or a directory's files one level deep (links followed). */
async function listArtifacts(paths: string[]): Promise<Artifact[]> {
  const found: { name: string; path: string }[] = [];
  for (const p of paths) {
    const s = statSync(p);
    if (s.isFile()) found.push({ name: basename(p).replace(/^[0-9a-z]{32}-/, ""), path: p });
    else if (s.isDirectory())
      for (const e of readdirSync(p).sort()) {
        const f = join(p, e);
        if (statSync(f, { throwIfNoEntry: false })?.isFile()) found.push({ name: e, path: f });
      }
  }
  return Promise.all(found.map(async (f) => ({ ...f, size: statSync(f.path).size, sha256: await sha256(f.path) })));
}

/** Runs nix build; its progress goes to the terminal, its --json to us. */
function nixBuild(argv: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.on("error", (e: NodeJS.ErrnoException) =>
      fail(new CliError(e.code === "ENOENT" ? `nix is not installed here; install it (${INSTALL_HINT}) or build on a machine that has it` : `nix build: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? ok(stdout) : fail(new CliError(`nix build failed (exit ${code}); its messages are above`))));
  });
}

export function registerImage(program: Command): void {
  program
    .command("image")
    .description("build a node class's boot media (fleet.yaml images:), the same files for every host of the class, and list them with their sha256")
    .argument("<class>", "node class, a name under images: in fleet.yaml")
    .option("-f, --fleet <dir>", "fleet directory", ".")
    .option("--format <format>", `build only this format (${IMAGE_FORMATS.join(", ")}); default: every format of the class`)
    .option("--out <dir>", "copy the built files to <dir>/<class>-<format>/, replacing what an earlier run put there (default: list them in the Nix store)")
    .option("--dry-run", "print the flake files that would change and the exact nix commands; build nothing")
    .action(
      wrap(async (className: string, opts: { fleet: string; format?: string; out?: string; dryRun?: boolean }) => {
        const fleetDir = resolve(opts.fleet);
        const flakeDir = join(fleetDir, "flake");
        // The image carries no secret: a fleet whose hosts still miss theirs builds it all the same.
        const plan = planFor(fleetDir, { requireSecrets: false });
        const img = plan.images.find((i) => i.name === className);
        if (!img) {
          const names = plan.images.map((i) => i.name);
          throw new CliError(`no class '${className}' under images: in fleet.yaml${names.length ? `; ${didYouMean(className, names) ?? `classes: ${names.join(", ")}`}` : "; define one there (see examples/ram-nodes)"}`, 2);
        }
        let formats: ImageFormat[] = [...img.cls.formats];
        if (opts.format !== undefined) {
          if (!img.cls.formats.includes(opts.format as ImageFormat))
            throw new CliError(`class '${className}' builds ${img.cls.formats.join(", ")}, not ${opts.format}; add it under images.${className}.formats`, 2);
          formats = [opts.format as ImageFormat];
        }
        if (/[#?%\s]/.test(flakeDir)) throw new CliError(`the flake directory ${flakeDir} contains #, ?, % or a space, which Nix's flake references cannot carry; move the fleet`);
        checkOutputDir(fleetDir, flakeDir);
        const builds = formats.map((f) => ({ format: f, pkg: imagePackage(className, IMAGE_FORMAT_INFO[f].suffix) }));
        const outDir = opts.out ? resolve(opts.out) : undefined;

        if (opts.dryRun) {
          const changed = compareFiles(flakeDir, plan.files).filter((c) => c.action !== "unchanged");
          for (const c of changed) out(`would ${c.action} ${flakeDir}/${c.path}`);
          for (const b of builds) out(shellLine(imageBuildArgv(flakeDir, b.pkg)));
          if (outDir) for (const b of builds) out(`would copy the files of ${b.pkg} to ${join(outDir, `${className}-${b.format}`)}`);
          out(`dry run: ${changed.length} flake file(s) would change; ${builds.length} build(s), nothing built`);
          return;
        }

        writeFlake(fleetDir, flakeDir, plan);
        for (const b of builds) {
          const argv = imageBuildArgv(flakeDir, b.pkg);
          out(`building ${b.pkg}: ${shellLine(argv)}`);
          const paths = parseOutPaths(await nixBuild(argv));
          let files: Artifact[];
          if (outDir) {
            const dest = join(outDir, `${className}-${b.format}`);
            rmSync(dest, { recursive: true, force: true });
            files = await copyArtifacts(paths, dest);
          } else files = await listArtifacts(paths);
          out(`${b.pkg} (${IMAGE_FORMAT_INFO[b.format].describe}): ${paths.join(" ")}`);
          for (const f of files) out(`  ${f.sha256}  ${String(f.size).padStart(12)}  ${f.path}`);
        }
      }),
    );
}
