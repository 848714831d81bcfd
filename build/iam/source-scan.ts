/**
 * A lexical model of one TypeScript module, enough to tell which AWS SDK v3 commands a given
 * export can reach: its imports, its top-level declarations (each with its text), and every
 * `new XxxCommand(` with the SDK package the class comes from.
 *
 * Regular expressions over Biome-formatted source, not a compiler: a top-level statement starts
 * at column 0, continuation lines are indented or start with a closing bracket. A construct the
 * model does not understand (a command class of unknown origin, a paginator or waiter that sends
 * commands inside the SDK) is an error, never skipped.
 */
import { DOCUMENT_CLIENT_PACKAGE, SERVICE_PREFIX_OF_PACKAGE, type TransactItemKind } from "./sdk-actions.js";

export interface SdkCommandUse {
  pkg: string;
  command: string;
}

export interface ImportBinding {
  specifier: string;
  /** The exported name in the imported module; "*" for a namespace import. */
  imported: string;
}

/** One top-level statement: a declaration (with its names) or a statement run at load. */
export interface TopLevelChunk {
  /** Runtime names it declares; empty for a statement that runs when the module loads. */
  names: string[];
  text: string;
}

export interface ModuleModel {
  path: string;
  /** Local name → where it comes from (value imports only: type-only ones are erased). */
  imports: Map<string, ImportBinding>;
  /** Exported name → where it is re-exported from (`export { a as b } from "x"`). */
  reexports: Map<string, ImportBinding>;
  /** `export * from "x"` specifiers. */
  starExports: string[];
  /** Exported name → local name (`export { a as b }`); declarations export under their own name. */
  exportAliases: Map<string, string>;
  /** Modules loaded for their effects or dynamically (`import "x"`, `import("x")`): loaded whole. */
  wholeImports: string[];
  chunks: TopLevelChunk[];
}

/** Any AWS SDK v3 package: one without a mapping must fail in sdk-actions.ts, not be ignored. */
const isSdkPackage = (specifier: string) =>
  specifier === DOCUMENT_CLIENT_PACKAGE ||
  specifier in SERVICE_PREFIX_OF_PACKAGE ||
  specifier.startsWith("@aws-sdk/");

/** Removes comments, so that a command named in prose is not taken for a call. */
export function stripComments(source: string): string {
  return (
    source
      .replace(/\/\*[\s\S]*?\*\//g, "")
      // `//` not preceded by `:` (URLs in strings) starts a line comment.
      .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
  );
}

// import/export <clause> from "x": the clause is a default name, a namespace, a braced list, or
// a default name and a braced list; `type` before it makes the whole statement type-only.
const STATIC_IMPORT =
  /^(import|export)\s+(type\s+)?((?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+))\s+from\s+["']([^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^import\s+["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
const NEW_EXPRESSION = /\bnew\s+([\w$]+(?:\.[\w$]+)?)\s*\(/g;
const TRANSACT_ITEM = /\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g;
const IDENTIFIER = /[A-Za-z_$][\w$]*/g;

/** Value bindings of a braced list as [local, imported]; `type X` entries are dropped. */
function bracedBindings(braced: string): [local: string, imported: string][] {
  return braced
    .replace(/[{}]/g, "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0 && !part.startsWith("type "))
    .map((part) => {
      const [imported, local] = part.split(/\s+as\s+/);
      return [(local ?? imported) as string, imported as string];
    });
}

/** Splits a module into top-level statements (column-0 starts; see the module comment). */
function topLevelStatements(code: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of code.split("\n")) {
    const startsStatement = line.length > 0 && !/^[\s})\]]/.test(line);
    if (startsStatement && current.length > 0) {
      statements.push(current.join("\n"));
      current = [];
    }
    current.push(line);
  }
  if (current.length > 0) statements.push(current.join("\n"));
  return statements.filter((s) => s.trim().length > 0);
}

/** The runtime names a top-level statement declares; undefined for type-only or import statements. */
function declaredNames(statement: string): string[] | undefined {
  const head = statement.replace(/^export\s+(default\s+)?/, "").replace(/^declare\s+/, "");
  if (/^import\b/.test(statement)) return undefined;
  if (/^export\s+(type\s+)?(\*|\{[^}]*\}\s*from\b)/.test(statement)) return undefined;
  if (/^(type|interface)\s/.test(head)) return undefined;
  if (/^export\s+default\s/.test(statement) && !/^(async\s+)?(function|class)\b/.test(head))
    return ["default"];
  const fn = head.match(/^(?:async\s+)?function\s*\*?\s*([\w$]+)/);
  if (fn) return [fn[1] as string];
  const cls = head.match(/^(?:abstract\s+)?class\s+([\w$]+)/);
  if (cls) return [cls[1] as string];
  const enm = head.match(/^(?:const\s+)?enum\s+([\w$]+)/);
  if (enm) return [enm[1] as string];
  const simple = head.match(/^(?:const|let|var)\s+([\w$]+)/);
  if (simple) return [simple[1] as string];
  const destructured = head.match(/^(?:const|let|var)\s+([{[][^=]*[}\]])\s*=/);
  if (destructured) {
    return (destructured[1] as string)
      .replace(/[{}[\]]/g, "")
      .split(",")
      .map((part) => (part.split(":").pop() as string).split("=")[0]?.trim() ?? "")
      .filter((name) => /^[\w$]+$/.test(name));
  }
  return [];
}

export function parseModule(path: string, source: string): ModuleModel {
  const code = stripComments(source);
  const model: ModuleModel = {
    path,
    imports: new Map(),
    reexports: new Map(),
    starExports: [],
    exportAliases: new Map(),
    wholeImports: [],
    chunks: [],
  };

  for (const match of code.matchAll(STATIC_IMPORT)) {
    const [, keyword, typeOnly, clause, specifier] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (typeOnly) continue;
    const braced = clause.match(/\{[^}]*\}/)?.[0];
    const rest = clause
      .replace(/\{[^}]*\}/, "")
      .replace(/,/g, "")
      .trim();
    if (keyword === "export") {
      if (rest === "*") model.starExports.push(specifier);
      const namespace = rest.match(/^\*\s+as\s+([\w$]+)$/)?.[1];
      if (namespace) model.reexports.set(namespace, { specifier, imported: "*" });
      for (const [exported, imported] of braced ? bracedBindings(braced) : []) {
        model.reexports.set(exported, { specifier, imported });
      }
      continue;
    }
    for (const [local, imported] of braced ? bracedBindings(braced) : []) {
      // Paginators and waiters send commands inside the SDK, where the scan cannot see them.
      if (isSdkPackage(specifier) && /^(paginate|waitFor|waitUntil)/.test(imported)) {
        throw new Error(
          `${path}: ${imported} from ${specifier} sends commands the IAM scan cannot see; send the command explicitly`,
        );
      }
      model.imports.set(local, { specifier, imported });
    }
    const namespace = rest.match(/^\*\s+as\s+([\w$]+)$/)?.[1];
    if (namespace) model.imports.set(namespace, { specifier, imported: "*" });
    else if (/^[\w$]+$/.test(rest)) model.imports.set(rest, { specifier, imported: "default" });
  }
  for (const match of code.matchAll(SIDE_EFFECT_IMPORT)) model.wholeImports.push(match[1] as string);
  for (const match of code.matchAll(DYNAMIC_IMPORT)) model.wholeImports.push(match[1] as string);

  for (const statement of topLevelStatements(code)) {
    const localExports = statement.match(/^export\s+\{([^}]*)\}\s*;?\s*$/);
    if (localExports) {
      for (const [exported, local] of bracedBindings(`{${localExports[1]}}`))
        model.exportAliases.set(exported, local);
      continue;
    }
    const names = declaredNames(statement);
    if (names === undefined) continue;
    model.chunks.push({ names, text: statement });
  }
  return model;
}

/** Identifiers a piece of code mentions (property names included: an over-approximation). */
export function mentionedIdentifiers(text: string): Set<string> {
  return new Set(text.match(IDENTIFIER) ?? []);
}

/** The SDK commands a chunk of a module constructs, attributed to their package. */
export function commandsIn(model: ModuleModel, text: string): SdkCommandUse[] {
  const commands: SdkCommandUse[] = [];
  for (const match of text.matchAll(NEW_EXPRESSION)) {
    const [head, member] = (match[1] as string).split(".") as [string, string | undefined];
    const origin = model.imports.get(head);
    if (member !== undefined) {
      if (origin?.imported === "*" && isSdkPackage(origin.specifier) && member.endsWith("Command")) {
        commands.push({ pkg: origin.specifier, command: member });
      }
      continue;
    }
    if (origin && isSdkPackage(origin.specifier)) {
      if (origin.imported.endsWith("Command"))
        commands.push({ pkg: origin.specifier, command: origin.imported });
    } else if (head.endsWith("Command") && !origin && !model.chunks.some((c) => c.names.includes(head))) {
      throw new Error(
        `${model.path}: new ${head}(…) is not imported from an AWS SDK package; the IAM scan cannot map it`,
      );
    }
  }
  return commands;
}

/** Item kinds written in TransactItems literals of a chunk. */
export function transactKindsIn(text: string): Set<TransactItemKind> {
  return new Set([...text.matchAll(TRANSACT_ITEM)].map((m) => m[1] as TransactItemKind));
}
