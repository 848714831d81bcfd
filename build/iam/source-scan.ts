/**
 * A model of one TypeScript module, enough to tell which AWS SDK v3 commands a given export can
 * reach: its imports, its top-level declarations (each with the identifiers it mentions and the
 * `new XxxCommand(…)` it contains, with the SDK package the class comes from), and the syntax of
 * the tag writes it declares and makes (src/iam/tag-writes.ts).
 *
 * Built from the TypeScript compiler's syntax tree, not from the text's layout, so that neither
 * formatting nor comments change what it finds. Syntax only, no type checker: the scan must run
 * on a repository that does not type-check yet, and at deploy in SST's bundle. A construct the
 * model does not understand (a command class of unknown origin, a paginator or waiter that sends
 * commands inside the SDK, an import it cannot follow) is an error naming the file and line,
 * never skipped.
 */
import { createRequire } from "node:module";
import type TS from "typescript";
import { DOCUMENT_CLIENT_PACKAGE, SERVICE_PREFIX_OF_PACKAGE, type TransactItemKind } from "./sdk-actions.js";

export interface SdkCommandUse {
  pkg: string;
  command: string;
  /** 1-based line of the `new` expression. */
  line: number;
  /**
   * For a CreateTagsCommand: whether its input is an object literal with a `Tags` property, the
   * one place the scan can check that the tag list comes from a declaration.
   */
  tagsVisible: boolean;
}

/** A module specifier where it is written (for an error that names the line). */
export interface ModuleReference {
  specifier: string;
  line: number;
}

export interface ImportBinding extends ModuleReference {
  /** The exported name in the imported module; "*" for a namespace import. */
  imported: string;
}

/** An expression where a string is expected (a tag key, a resource type): what the syntax says. */
export type StringExpression =
  | { kind: "string"; value: string }
  | { kind: "identifier"; name: string }
  | { kind: "other"; text: string };

/** `const X = declareTagWrite({ resource, keys, atCreation })`, as written. */
export interface TagDeclarationSyntax {
  line: number;
  resource?: StringExpression;
  atCreation?: StringExpression;
  /** Undefined when there is no `keys: [...]` array literal. */
  keys?: StringExpression[];
  /** What else the argument holds (spreads, other properties): the scan cannot vouch for it. */
  unexpected: string[];
}

/** A `Tags:` or `TagSpecifications:` property written in the code. */
export interface TagListSyntax {
  property: "Tags" | "TagSpecifications";
  line: number;
  /**
   * The declarations it is built from (`X.tags(…)`, `[X.specification(…), …]`); undefined when
   * it is built any other way.
   */
  declarations?: string[];
  /** The start of its value, for the error message. */
  text: string;
}

/** One top-level statement: a declaration (with its names) or a statement run at load. */
export interface TopLevelChunk {
  /** Runtime names it declares; empty for a statement that runs when the module loads. */
  names: string[];
  line: number;
  /** Identifiers it mentions, property names included (an over-approximation: never miss one). */
  identifiers: Set<string>;
  commands: SdkCommandUse[];
  /** Item kinds written in TransactItems-style literals (`Put: { … }`…). */
  transactKinds: Set<TransactItemKind>;
  tagDeclaration?: TagDeclarationSyntax;
  tagLists: TagListSyntax[];
  /** What the scan cannot map in it: thrown when, and only when, the chunk is reached. */
  problems: string[];
}

export interface ModuleModel {
  path: string;
  /** Local name → where it comes from (value imports only: type-only ones are erased). */
  imports: Map<string, ImportBinding>;
  /** Exported name → where it is re-exported from (`export { a as b } from "x"`). */
  reexports: Map<string, ImportBinding>;
  /** `export * from "x"` specifiers. */
  starExports: ModuleReference[];
  /** Exported name → local name (`export { a as b }`); declarations export under their own name. */
  exportAliases: Map<string, string>;
  /** Modules loaded for their effects or dynamically (`import "x"`, `import("x")`): loaded whole. */
  wholeImports: ModuleReference[];
  chunks: TopLevelChunk[];
  /** Top-level `const NAME = <expression>` (parentheses, `as` and `satisfies` removed). */
  constants: Map<string, StringExpression>;
}

// Required, not imported: SST bundles sst.config.ts and everything it imports into one ES module,
// and the compiler, bundled so, fails as it loads (its CommonJS reads __filename). Required from
// node_modules it loads as the CommonJS module it is, and the deploy's bundle stays small.
const ts = createRequire(import.meta.url)("typescript") as typeof TS;

/** Any AWS SDK v3 package: one without a mapping must fail in sdk-actions.ts, not be ignored. */
const isSdkPackage = (specifier: string) =>
  specifier === DOCUMENT_CLIENT_PACKAGE ||
  specifier in SERVICE_PREFIX_OF_PACKAGE ||
  specifier.startsWith("@aws-sdk/");

const TRANSACT_KINDS: ReadonlySet<string> = new Set<TransactItemKind>([
  "Put",
  "Update",
  "Delete",
  "ConditionCheck",
]);
// Paginators and waiters send commands inside the SDK, where the scan cannot see them.
const SENDS_INSIDE_SDK = /^(paginate|waitFor|waitUntil)/;
const TAG_DECLARATION_CALL = "declareTagWrite";

const hasModifier = (node: TS.Node, kind: TS.SyntaxKind) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);

/** A property's name when it is written as one (`a`, `"a"`); undefined when computed. */
function propertyName(name: TS.PropertyName): string | undefined {
  return ts.isIdentifier(name) || ts.isStringLiteralLike(name) || ts.isNumericLiteral(name)
    ? name.text
    : undefined;
}

/** Peels what does not change the value: `(x)`, `x as const`, `x satisfies T`, `x!`. */
function unwrap(expression: TS.Expression): TS.Expression {
  let current = expression;
  while (
    ts.isParenthesizedExpression(current) ||
    ts.isAsExpression(current) ||
    ts.isSatisfiesExpression(current) ||
    ts.isNonNullExpression(current) ||
    ts.isTypeAssertionExpression(current)
  ) {
    current = current.expression;
  }
  return current;
}

/** Runtime names a binding declares (`a`, `{ a, b: c }`, `[d, ...e]`). */
function bindingNames(name: TS.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) =>
    ts.isOmittedExpression(element) ? [] : bindingNames(element.name),
  );
}

/** `X.method(…)` → X; undefined for anything else. */
function receiverOf(expression: TS.Expression, method: string): string | undefined {
  const call = unwrap(expression);
  if (!ts.isCallExpression(call)) return undefined;
  const callee = unwrap(call.expression);
  if (!ts.isPropertyAccessExpression(callee) || callee.name.text !== method) return undefined;
  const receiver = unwrap(callee.expression);
  return ts.isIdentifier(receiver) ? receiver.text : undefined;
}

// Parse diagnostics are public only through a Program; one over the single file, with no
// library and no resolution, does no more than hand them over. The host is made once: it is
// what costs, not the Program.
let checked: TS.SourceFile | undefined;
let diagnosticsHost: TS.CompilerHost | undefined;

/** A file the parser could not read whole: the scan would see part of it, so it refuses it. */
function syntaxError(sourceFile: TS.SourceFile): TS.DiagnosticWithLocation | undefined {
  checked = sourceFile;
  if (!diagnosticsHost) {
    diagnosticsHost = ts.createCompilerHost({});
    diagnosticsHost.getSourceFile = (fileName) => (fileName === checked?.fileName ? checked : undefined);
    diagnosticsHost.fileExists = (fileName) => fileName === checked?.fileName;
  }
  const program = ts.createProgram({
    rootNames: [sourceFile.fileName],
    options: { noLib: true, noResolve: true, types: [] },
    host: diagnosticsHost,
  });
  return program.getSyntacticDiagnostics(sourceFile)[0];
}

export function parseModule(path: string, source: string): ModuleModel {
  const sourceFile = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node: TS.Node) =>
    sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
  const at = (node: TS.Node) => `${path}:${lineOf(node)}`;
  const invalid = syntaxError(sourceFile);
  if (invalid) {
    const { line } = sourceFile.getLineAndCharacterOfPosition(invalid.start);
    throw new Error(
      `${path}:${line + 1}: ${ts.flattenDiagnosticMessageText(invalid.messageText, " ")}; the IAM scan reads only valid TypeScript`,
    );
  }

  const model: ModuleModel = {
    path,
    imports: new Map(),
    reexports: new Map(),
    starExports: [],
    exportAliases: new Map(),
    wholeImports: [],
    chunks: [],
    constants: new Map(),
  };

  // First the module's own shape (imports, exports, top-level names), since classifying a
  // `new X(…)` needs to know every top-level name.
  const declarations: { statement: TS.Statement; names: string[] }[] = [];
  for (const statement of sourceFile.statements) {
    if (ts.isImportDeclaration(statement)) {
      readImport(statement);
      continue;
    }
    if (ts.isImportEqualsDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
      throw new Error(`${at(statement)}: \`import … =\` is not followed by the IAM scan; use an ES import`);
    }
    if (ts.isExportDeclaration(statement)) {
      readExport(statement);
      continue;
    }
    const names = declaredNames(statement);
    if (names !== undefined) declarations.push({ statement, names });
  }
  const topLevel = new Set(declarations.flatMap((d) => d.names));
  // The declareTagWrite calls the scan reads (a top-level const's value); any other is refused.
  const tagDeclarationCalls = new Set<TS.Node>();
  for (const { statement, names } of declarations) model.chunks.push(chunkOf(statement, names));
  return model;

  function specifierOf(node: TS.Expression): string {
    if (!ts.isStringLiteralLike(node))
      throw new Error(`${at(node)}: a module specifier that is not a string`);
    return node.text;
  }

  function readImport(statement: TS.ImportDeclaration) {
    const specifier = specifierOf(statement.moduleSpecifier);
    const line = lineOf(statement);
    const clause = statement.importClause;
    if (!clause) {
      model.wholeImports.push({ specifier, line });
      return;
    }
    if (clause.isTypeOnly) return;
    if (clause.name) model.imports.set(clause.name.text, { specifier, line, imported: "default" });
    const bindings = clause.namedBindings;
    if (!bindings) return;
    if (ts.isNamespaceImport(bindings)) {
      model.imports.set(bindings.name.text, { specifier, line, imported: "*" });
      return;
    }
    for (const element of bindings.elements) {
      if (element.isTypeOnly) continue;
      const imported = (element.propertyName ?? element.name).text;
      if (isSdkPackage(specifier) && SENDS_INSIDE_SDK.test(imported)) {
        throw new Error(
          `${at(element)}: ${imported} from ${specifier} sends commands the IAM scan cannot see; send the command explicitly`,
        );
      }
      model.imports.set(element.name.text, { specifier, line, imported });
    }
  }

  function readExport(statement: TS.ExportDeclaration) {
    if (statement.isTypeOnly) return;
    const clause = statement.exportClause;
    if (statement.moduleSpecifier) {
      const specifier = specifierOf(statement.moduleSpecifier);
      const line = lineOf(statement);
      if (!clause) model.starExports.push({ specifier, line });
      else if (ts.isNamespaceExport(clause))
        model.reexports.set(clause.name.text, { specifier, line, imported: "*" });
      else
        for (const element of clause.elements) {
          if (element.isTypeOnly) continue;
          const imported = (element.propertyName ?? element.name).text;
          model.reexports.set(element.name.text, { specifier, line, imported });
        }
      return;
    }
    if (clause && ts.isNamedExports(clause)) {
      for (const element of clause.elements) {
        if (element.isTypeOnly) continue;
        model.exportAliases.set(element.name.text, (element.propertyName ?? element.name).text);
      }
    }
  }

  /** The runtime names a top-level statement declares; undefined when it has no run-time code. */
  function declaredNames(statement: TS.Statement): string[] | undefined {
    if (hasModifier(statement, ts.SyntaxKind.DeclareKeyword)) return undefined;
    if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) return undefined;
    const asDefault = hasModifier(statement, ts.SyntaxKind.DefaultKeyword) ? ["default"] : [];
    if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) {
      // An overload signature has no body, hence no run-time code.
      if (ts.isFunctionDeclaration(statement) && !statement.body) return undefined;
      return [...(statement.name ? [statement.name.text] : []), ...asDefault];
    }
    if (ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) {
      return ts.isIdentifier(statement.name) ? [statement.name.text] : [];
    }
    if (ts.isVariableStatement(statement)) {
      return statement.declarationList.declarations.flatMap((d) => bindingNames(d.name));
    }
    if (ts.isExportAssignment(statement)) return ["default"];
    return [];
  }

  function chunkOf(statement: TS.Statement, names: string[]): TopLevelChunk {
    const chunk: TopLevelChunk = {
      names,
      line: lineOf(statement),
      identifiers: new Set(),
      commands: [],
      transactKinds: new Set(),
      tagLists: [],
      problems: [],
    };
    if (ts.isVariableStatement(statement)) readConstants(statement, chunk);
    const visit = (node: TS.Node, inType: boolean): void => {
      const typePosition = inType || ts.isTypeNode(node);
      if (ts.isIdentifier(node)) {
        chunk.identifiers.add(node.text);
        if (!typePosition) checkCommandReference(node, chunk);
      } else if (ts.isNewExpression(node)) {
        readNew(node, chunk);
      } else if (ts.isCallExpression(node)) {
        readCall(node, chunk);
      } else if (ts.isPropertyAssignment(node)) {
        readProperty(node, chunk);
      } else if (ts.isPropertyAccessExpression(node)) {
        readMember(node);
      }
      ts.forEachChild(node, (child) => visit(child, typePosition));
    };
    visit(statement, false);
    return chunk;
  }

  function readConstants(statement: TS.VariableStatement, chunk: TopLevelChunk) {
    if (!(statement.declarationList.flags & ts.NodeFlags.Const)) return;
    for (const declaration of statement.declarationList.declarations) {
      if (!ts.isIdentifier(declaration.name) || !declaration.initializer) continue;
      const initializer = unwrap(declaration.initializer);
      model.constants.set(declaration.name.text, stringExpression(initializer));
      if (isTagDeclarationCall(initializer)) {
        tagDeclarationCalls.add(initializer);
        chunk.tagDeclaration = tagDeclaration(initializer);
      }
    }
  }

  function stringExpression(expression: TS.Expression): StringExpression {
    const value = unwrap(expression);
    if (ts.isStringLiteralLike(value)) return { kind: "string", value: value.text };
    if (ts.isIdentifier(value)) return { kind: "identifier", name: value.text };
    return { kind: "other", text: value.getText(sourceFile) };
  }

  function isTagDeclarationCall(node: TS.Node): node is TS.CallExpression {
    if (!ts.isCallExpression(node)) return false;
    const callee = unwrap(node.expression);
    return ts.isIdentifier(callee) && callee.text === TAG_DECLARATION_CALL;
  }

  function tagDeclaration(call: TS.CallExpression): TagDeclarationSyntax {
    const syntax: TagDeclarationSyntax = { line: lineOf(call), unexpected: [] };
    const [argument, ...rest] = call.arguments;
    const literal = argument ? unwrap(argument) : undefined;
    if (!literal || !ts.isObjectLiteralExpression(literal) || rest.length > 0) {
      syntax.unexpected.push(`its argument (${call.arguments.map((a) => a.getText(sourceFile)).join(", ")})`);
      return syntax;
    }
    for (const property of literal.properties) {
      const name = property.name && propertyName(property.name);
      if (!ts.isPropertyAssignment(property) || name === undefined) {
        syntax.unexpected.push(property.getText(sourceFile));
      } else if (name === "resource") {
        syntax.resource = stringExpression(property.initializer);
      } else if (name === "atCreation") {
        syntax.atCreation = stringExpression(property.initializer);
      } else if (name === "keys") {
        const list = unwrap(property.initializer);
        if (ts.isArrayLiteralExpression(list)) syntax.keys = list.elements.map(stringExpression);
        else syntax.unexpected.push(property.getText(sourceFile));
      } else {
        syntax.unexpected.push(property.getText(sourceFile));
      }
    }
    return syntax;
  }

  function readNew(node: TS.NewExpression, chunk: TopLevelChunk) {
    const callee = unwrap(node.expression);
    const use = (pkg: string, command: string) => {
      const first = node.arguments?.[0];
      const input = first && unwrap(first);
      const tagsVisible =
        input !== undefined &&
        ts.isObjectLiteralExpression(input) &&
        input.properties.some((p) => ts.isPropertyAssignment(p) && propertyName(p.name) === "Tags");
      chunk.commands.push({ pkg, command, line: lineOf(node), tagsVisible });
    };
    if (ts.isIdentifier(callee)) {
      const origin = model.imports.get(callee.text);
      if (origin && isSdkPackage(origin.specifier)) {
        if (origin.imported.endsWith("Command")) use(origin.specifier, origin.imported);
      } else if (callee.text.endsWith("Command") && !(origin === undefined && topLevel.has(callee.text))) {
        chunk.problems.push(
          `${at(node)}: new ${callee.text}(…) is not imported from an AWS SDK package; the IAM scan cannot map it`,
        );
      }
      return;
    }
    if (ts.isPropertyAccessExpression(callee) && callee.name.text.endsWith("Command")) {
      const head = unwrap(callee.expression);
      const origin = ts.isIdentifier(head) ? model.imports.get(head.text) : undefined;
      if (origin?.imported === "*" && isSdkPackage(origin.specifier)) use(origin.specifier, callee.name.text);
      else
        chunk.problems.push(
          `${at(node)}: new ${callee.getText(sourceFile)}(…) is not a command of an AWS SDK package imported as a namespace; the IAM scan cannot map it`,
        );
    }
  }

  /**
   * An SDK command class used other than as `new X(…)` (passed around, aliased, in a shorthand
   * property) would be constructed where the scan does not look for it.
   */
  function checkCommandReference(node: TS.Identifier, chunk: TopLevelChunk) {
    const origin = model.imports.get(node.text);
    if (!origin || !isSdkPackage(origin.specifier) || !origin.imported.endsWith("Command")) return;
    const parent = node.parent;
    const isCallee = ts.isNewExpression(parent) && parent.expression === node;
    // A property's own name (`a.XCommand`, `{ XCommand: … }`) is not a reference to the import.
    const isPropertyName =
      (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
      (ts.isPropertyAssignment(parent) && parent.name === node) ||
      ((ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent)) && parent.name === node);
    // `x instanceof XCommand` constructs nothing.
    const isInstanceofTarget =
      ts.isBinaryExpression(parent) &&
      parent.operatorToken.kind === ts.SyntaxKind.InstanceOfKeyword &&
      parent.right === node;
    if (isCallee || isPropertyName || isInstanceofTarget) return;
    chunk.problems.push(
      `${at(node)}: ${node.text} is used other than in \`new ${node.text}(…)\`; the IAM scan sees only commands constructed where they are sent`,
    );
  }

  function readCall(node: TS.CallExpression, chunk: TopLevelChunk) {
    if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      if (!specifier || !ts.isStringLiteralLike(specifier)) {
        throw new Error(`${at(node)}: import() of a computed specifier; the IAM scan cannot follow it`);
      }
      model.wholeImports.push({ specifier: specifier.text, line: lineOf(node) });
      return;
    }
    const callee = unwrap(node.expression);
    if (ts.isIdentifier(callee) && callee.text === "require") {
      throw new Error(`${at(node)}: require() is not followed by the IAM scan; use an ES import`);
    }
    if (isTagDeclarationCall(node) && !tagDeclarationCalls.has(node)) {
      chunk.problems.push(
        `${at(node)}: ${TAG_DECLARATION_CALL}(…) outside a top-level \`const X = ${TAG_DECLARATION_CALL}({…})\`; the IAM scan reads only those`,
      );
    }
  }

  function readProperty(node: TS.PropertyAssignment, chunk: TopLevelChunk) {
    const name = propertyName(node.name);
    if (name === undefined) return;
    const value = unwrap(node.initializer);
    if (TRANSACT_KINDS.has(name) && ts.isObjectLiteralExpression(value)) {
      chunk.transactKinds.add(name as TransactItemKind);
    }
    if (name !== "Tags" && name !== "TagSpecifications") return;
    let declarations: string[] | undefined;
    if (name === "Tags") {
      const declared = receiverOf(value, "tags");
      declarations = declared === undefined ? undefined : [declared];
    } else if (ts.isArrayLiteralExpression(value) && value.elements.length > 0) {
      const declared = value.elements.map((element) => receiverOf(element, "specification"));
      declarations = declared.every((d) => d !== undefined) ? declared : undefined;
    }
    chunk.tagLists.push({
      property: name,
      line: lineOf(node),
      ...(declarations ? { declarations } : {}),
      text: value.getText(sourceFile).replace(/\s+/g, " ").slice(0, 40),
    });
  }

  function readMember(node: TS.PropertyAccessExpression) {
    const head = unwrap(node.expression);
    const origin = ts.isIdentifier(head) ? model.imports.get(head.text) : undefined;
    if (origin?.imported === "*" && isSdkPackage(origin.specifier) && SENDS_INSIDE_SDK.test(node.name.text)) {
      throw new Error(
        `${at(node)}: ${node.name.text} from ${origin.specifier} sends commands the IAM scan cannot see; send the command explicitly`,
      );
    }
  }
}
