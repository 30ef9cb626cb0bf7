// Shell quoting identical to nixpkgs' lib.escapeShellArg, so `hearth eval` prints the
// same ExecStart the hearth-service module builds with lib.escapeShellArgs.
export function escapeShellArg(arg: string): string {
  return /^[A-Za-z0-9,._+:@%/-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
export const escapeShellArgs = (args: string[]) => args.map(escapeShellArg).join(" ");
