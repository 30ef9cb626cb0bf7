// Nix expression tree and its printer: the only way hearth produces Nix code.
// Plain JS values (string, number, boolean, null, arrays, plain objects) are Nix data;
// `Expr` nodes are the few code constructs the generator needs (variables, selects,
// function application, lambdas, lets, interpolation, paths). Every string, including
// attribute names, goes through `nixString`, so no input can change the code's structure.

export type NixValue =
  | string
  | number
  | boolean
  | null
  | Expr
  | readonly NixValue[]
  | { readonly [key: string]: NixValue | undefined };

type Node =
  | { k: "var"; name: string }
  | { k: "select"; base: NixValue; path: readonly string[]; dynamic?: NixValue }
  | { k: "apply"; fn: NixValue; args: readonly NixValue[] }
  | { k: "lambda"; formals: readonly string[] | string; at?: string; body: NixValue }
  | { k: "let"; bindings: Record<string, NixValue>; body: NixValue }
  | { k: "interp"; parts: readonly (string | NixValue)[] }
  | { k: "path"; path: string }
  | { k: "binop"; op: "++" | "//" | "+"; left: NixValue; right: NixValue };

/** A Nix code construct; build them with the helpers below, never by hand. */
export class Expr {
  constructor(readonly node: Node) {}
}

export const nix = {
  /** A variable in scope, e.g. `inputs` or `pkgs`. */
  v: (name: string) => {
    assertIdent(name);
    return new Expr({ k: "var", name });
  },
  /** `base.a.b.c`; each attribute name is printed escaped when it is not a plain identifier. */
  sel: (base: NixValue, ...path: string[]) => new Expr({ k: "select", base, path }),
  /** `base.${dynamic}`, e.g. `inputs.x.packages.${system}` written as a select with a variable key. */
  selDyn: (base: NixValue, dynamic: NixValue) => new Expr({ k: "select", base, path: [], dynamic }),
  /** `fn a b c` */
  apply: (fn: NixValue, ...args: NixValue[]) => new Expr({ k: "apply", fn, args }),
  /** `{ a, b, ... }@at: body` */
  lambda: (formals: string[] | string, body: NixValue, at?: string) => {
    (typeof formals === "string" ? [formals] : formals).forEach(assertIdent);
    if (at) assertIdent(at);
    return new Expr({ k: "lambda", formals, at, body });
  },
  let: (bindings: Record<string, NixValue>, body: NixValue) => {
    Object.keys(bindings).forEach(assertIdent);
    return new Expr({ k: "let", bindings, body });
  },
  /** `"text${expr}text"`: strings are escaped, expressions interpolated. */
  interp: (...parts: (string | NixValue)[]) => new Expr({ k: "interp", parts }),
  /** A relative path literal such as `./hosts/alpha`; only safe path characters are allowed. */
  path: (path: string) => {
    if (!/^(\.|\.\.(\/\.\.)*)(\/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)+$/.test(path))
      throw new Error(`internal: unsafe Nix path literal ${JSON.stringify(path)}`);
    return new Expr({ k: "path", path });
  },
  concat: (left: NixValue, right: NixValue) => new Expr({ k: "binop", op: "++", left, right }),
  update: (left: NixValue, right: NixValue) => new Expr({ k: "binop", op: "//", left, right }),
};

const KEYWORDS = new Set(["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"]);
const IDENT = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

function assertIdent(name: string): void {
  if (!IDENT.test(name) || KEYWORDS.has(name)) throw new Error(`internal: not a Nix identifier: ${JSON.stringify(name)}`);
}

/**
 * Escape text for the inside of a Nix double-quoted string.
 * `\` `"` and `$` are backslash-escaped (so `${` can never start an interpolation),
 * newline, CR and tab use their escapes; everything else, unicode included, is literal.
 * NUL cannot be represented in a Nix string and is rejected.
 */
export function escapeNixStringBody(s: string): string {
  if (s.includes("\0")) throw new NixPrintError("a string contains a NUL character, which Nix strings cannot hold");
  let out = "";
  for (const ch of s) {
    switch (ch) {
      case "\\": out += "\\\\"; break;
      case '"': out += '\\"'; break;
      case "$": out += "\\$"; break;
      case "\n": out += "\\n"; break;
      case "\r": out += "\\r"; break;
      case "\t": out += "\\t"; break;
      default: out += ch;
    }
  }
  return out;
}

/** A complete Nix string literal: `"..."`. */
export function nixString(s: string): string {
  return `"${escapeNixStringBody(s)}"`;
}

/** An attribute name: bare when it is a plain identifier, else a quoted string. */
export function nixAttrName(name: string): string {
  return IDENT.test(name) && !KEYWORDS.has(name) ? name : nixString(name);
}

export class NixPrintError extends Error {}

const isPlainObject = (v: unknown): v is Record<string, NixValue | undefined> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Expr);

/** Print a Nix value as formatted, deterministic source text (no trailing newline). */
export function printNix(value: NixValue, indent = ""): string {
  return print(value, indent);
}

function print(v: NixValue, ind: string): string {
  if (v === null) return "null";
  if (typeof v === "string") return nixString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new NixPrintError(`number ${v} is not a safe integer`);
    return v < 0 ? `(${v})` : String(v);
  }
  if (v instanceof Expr) return printExpr(v.node, ind);
  if (Array.isArray(v)) return printList(v, ind);
  if (isPlainObject(v)) return printAttrs(v, ind);
  throw new NixPrintError(`cannot print ${typeof v} as Nix`);
}

function printList(items: readonly NixValue[], ind: string): string {
  if (items.length === 0) return "[ ]";
  const inner = ind + "  ";
  const parts = items.map((i) => wrapListItem(i, inner));
  const oneLine = `[ ${parts.join(" ")} ]`;
  if (oneLine.length + ind.length <= 100 && !oneLine.includes("\n")) return oneLine;
  return `[\n${parts.map((p) => inner + p).join("\n")}\n${ind}]`;
}

// List elements bind tighter than application, so applications and lambdas need parentheses.
function wrapListItem(v: NixValue, ind: string): string {
  const s = print(v, ind);
  if (v instanceof Expr && ["apply", "lambda", "let", "binop"].includes(v.node.k)) return `(${s})`;
  return s;
}

function printAttrs(obj: Record<string, NixValue | undefined>, ind: string): string {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined) as [string, NixValue][];
  if (entries.length === 0) return "{ }";
  const inner = ind + "  ";
  const lines = entries.map(([k, v]) => `${inner}${nixAttrName(k)} = ${print(v, inner)};`);
  return `{\n${lines.join("\n")}\n${ind}}`;
}

function printOperand(v: NixValue, ind: string): string {
  const s = print(v, ind);
  return v instanceof Expr && ["apply", "lambda", "let", "binop"].includes(v.node.k) ? `(${s})` : s;
}

function printExpr(n: Node, ind: string): string {
  switch (n.k) {
    case "var":
      return n.name;
    case "path":
      return n.path;
    case "select": {
      const base = n.base instanceof Expr && (n.base.node.k === "var" || n.base.node.k === "select")
        ? print(n.base, ind)
        : `(${print(n.base, ind)})`;
      const tail = n.path.map((p) => "." + nixAttrName(p)).join("");
      const dyn = n.dynamic === undefined ? "" : `.\${${print(n.dynamic, ind)}}`;
      return base + tail + dyn;
    }
    case "apply":
      return [printOperand(n.fn, ind), ...n.args.map((a) => printOperand(a, ind))].join(" ");
    case "lambda": {
      const formals =
        typeof n.formals === "string" ? n.formals : n.formals.length === 0 ? "{ ... }" : `{ ${[...n.formals, "..."].join(", ")} }`;
      return `${formals}${n.at ? "@" + n.at : ""}:\n${ind}${print(n.body, ind)}`;
    }
    case "let": {
      const inner = ind + "  ";
      const b = Object.entries(n.bindings).map(([k, v]) => `${inner}${k} = ${print(v, inner)};`);
      return `let\n${b.join("\n")}\n${ind}in\n${ind}${print(n.body, ind)}`;
    }
    case "interp":
      return `"${n.parts.map((p) => (typeof p === "string" ? escapeNixStringBody(p) : `\${${print(p, ind)}}`)).join("")}"`;
    case "binop":
      return `${printOperand(n.left, ind)} ${n.op} ${printOperand(n.right, ind)}`;
  }
}
