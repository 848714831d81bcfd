/**
 * The IAM actions Phoenix's code and workflows actually use, derived from the source, so that
 * the deployed policies follow the code instead of a list kept by hand beside it.
 *
 * Functions: start from every export of functions/<name>.ts and follow what is reachable:
 * within a module, from a top-level declaration to the declarations and imports its code
 * mentions (source-scan.ts reads the syntax tree, so formatting and comments do not matter); across modules, from an imported name to that module's declaration of it (re-exports
 * followed). `import type` and all-`type` lists are erased by the compiler and not followed.
 * Every `new XxxCommand(` of an AWS SDK v3 package inside a reachable declaration counts; each
 * maps to its IAM action(s) (sdk-actions.ts), plus the actions AWS checks on the caller's behalf.
 * The tag writes a function reaches (`declareTagWrite` declarations next to the calls,
 * src/iam/tag-writes.ts) are collected too: ec2:CreateTags is granted for exactly those keys and resource
 * types, and a tag list not built from a declaration is refused.
 *
 * Granularity is the top-level declaration: a factory that returns an object of methods (the
 * audit store, the notifier) counts all its methods' commands as soon as it is reachable, and a
 * mentioned identifier is followed even when it is only a property name. Both over-approximate
 * (never miss a call); see docs/DEPLOY.md for what that grants.
 *
 * State machines: walk every state (Map and Parallel included); a Task's Resource must be a
 * Lambda invoke of a catalogued function or an allowed service integration.
 *
 * Pure: file access comes in as `read`, so the stack (at deploy) and the tests (offline) run
 * the same derivation.
 */
import { PHOENIX_FUNCTIONS, type PhoenixFunction, placeholderOf } from "../../src/catalog.js";
import type { CreatingAction, TaggedResourceType, TagWrite } from "../../src/iam/tag-writes.js";
import { actionsOfCommand, withDependents } from "./sdk-actions.js";
import {
  type ModuleModel,
  type ModuleReference,
  parseModule,
  type StringExpression,
  type TagDeclarationSyntax,
  type TopLevelChunk,
} from "./source-scan.js";

/** Reads a file by its path relative to the repository root; undefined when it does not exist. */
export type ReadSource = (repoPath: string) => string | undefined;

/** A tag declaration (src/iam/tag-writes.ts) a function reaches, with where it is declared. */
export interface DerivedTagWrite extends TagWrite {
  /** `module: NAME`. */
  declaredIn: string;
}

export interface UsedActions {
  /** Sorted, unique. */
  actions: string[];
  /** The tag writes the function's code declares (what ec2:CreateTags is granted for). */
  tagWrites: DerivedTagWrite[];
  /** The repository modules the entry point reaches at run time (the scan's scope). */
  modules: string[];
  /** action → where it comes from (`module: Command`, or `dependent action`). */
  provenance: Record<string, string[]>;
}

export const functionEntry = (name: PhoenixFunction): string => `functions/${name}.ts`;

function joinPath(dir: string, relative: string): string {
  const parts = dir === "" ? [] : dir.split("/");
  for (const part of relative.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

const dirOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf("/")));

/** A relative specifier as NodeNext writes it (`./x.js`) resolved to the .ts file on disk. */
function resolveModule(from: string, reference: ModuleReference, read: ReadSource): string {
  const joined = joinPath(dirOf(from), reference.specifier);
  const candidates = joined.endsWith(".js")
    ? [`${joined.slice(0, -3)}.ts`, joined]
    : [joined, `${joined}.ts`, `${joined}/index.ts`];
  for (const candidate of candidates) if (read(candidate) !== undefined) return candidate;
  throw new Error(
    `${from}:${reference.line}: cannot resolve import "${reference.specifier}" (tried ${candidates.join(", ")})`,
  );
}

const ALL = "*";

type ModelOf = (path: string) => ModuleModel;

// Parsing is the scan's cost, and every function reaches much the same modules: a module is
// parsed once per process for as long as its text stays the same (the model depends on nothing
// else).
const parsed = new Map<string, { source: string; model: ModuleModel }>();

function moduleLoader(read: ReadSource): ModelOf {
  return (path) => {
    const source = read(path);
    if (source === undefined) throw new Error(`${path}: not found`);
    const cached = parsed.get(path);
    if (cached?.source === source) return cached.model;
    const model = parseModule(path, source);
    parsed.set(path, { source, model });
    return model;
  };
}

/** The first problem of a reached chunk: the scan cannot say what it sends, so it refuses it. */
function refuseProblems(chunk: TopLevelChunk) {
  const [problem] = chunk.problems;
  if (problem !== undefined) throw new Error(problem);
}

/**
 * Walks what an entry point reaches, declaration by declaration. Returns, per module, the
 * indexes of its reachable top-level chunks.
 */
function reachableChunks(entry: string, read: ReadSource, modelOf: ModelOf): Map<ModuleModel, Set<number>> {
  const reached = new Map<ModuleModel, Set<number>>();
  const requested = new Set<string>();
  const pending: [path: string, name: string][] = [[entry, ALL]];

  const follow = (model: ModuleModel, reference: ModuleReference, name: string) => {
    // Packages (the SDK, middy, zod…) are not Phoenix's code; AWS calls they make on Phoenix's
    // behalf go through commands Phoenix constructs, which the scan sees.
    if (reference.specifier.startsWith(".")) pending.push([resolveModule(model.path, reference, read), name]);
  };

  while (pending.length > 0) {
    const [path, name] = pending.pop() as [string, string];
    const key = `${path}#${name}`;
    if (requested.has(key)) continue;
    requested.add(key);
    const model = modelOf(path);
    let chunks = reached.get(model);
    if (!chunks) {
      chunks = new Set();
      reached.set(model, chunks);
      // Loading a module runs its statements and whatever it imports for effect.
      model.chunks.forEach((chunk, index) => {
        if (chunk.names.length === 0) pending.push([path, `#${index}`]);
      });
      for (const reference of model.wholeImports) follow(model, reference, ALL);
    }

    const start: number[] = [];
    if (name === ALL) {
      for (let index = 0; index < model.chunks.length; index++) start.push(index);
      for (const [exported, binding] of model.reexports) follow(model, binding, binding.imported || exported);
      for (const reference of model.starExports) follow(model, reference, ALL);
    } else if (name.startsWith("#")) {
      start.push(Number(name.slice(1)));
    } else {
      const local = model.exportAliases.get(name) ?? name;
      const index = model.chunks.findIndex((chunk) => chunk.names.includes(local));
      const reexport = model.reexports.get(name);
      const imported = model.imports.get(local);
      if (index >= 0) start.push(index);
      else if (reexport) follow(model, reexport, reexport.imported);
      else if (imported) follow(model, imported, imported.imported);
      else for (const reference of model.starExports) follow(model, reference, name);
    }

    for (const index of start) {
      if (chunks.has(index)) continue;
      chunks.add(index);
      for (const identifier of model.chunks[index]?.identifiers ?? []) {
        const sibling = model.chunks.findIndex((chunk) => chunk.names.includes(identifier));
        if (sibling >= 0 && sibling !== index) pending.push([path, `#${sibling}`]);
        const binding = model.imports.get(identifier);
        if (binding) follow(model, binding, binding.imported);
      }
    }
  }
  return reached;
}

function addUse(provenance: Record<string, string[]>, action: string, from: string) {
  const list = provenance[action] ?? [];
  provenance[action] = list;
  if (!list.includes(from)) list.push(from);
}

export function usedActionsOfFunction(name: PhoenixFunction, read: ReadSource): UsedActions {
  const modelOf = moduleLoader(read);
  const reached = reachableChunks(functionEntry(name), read, modelOf);
  const provenance: Record<string, string[]> = {};
  const tagWrites: DerivedTagWrite[] = [];
  for (const [model, indexes] of reached) {
    const chunks = [...indexes].sort((a, b) => a - b).flatMap((index) => model.chunks[index] ?? []);
    for (const chunk of chunks) refuseProblems(chunk);
    // The items of a transaction may be built in a helper next to the send: take the kinds
    // written anywhere in the module's reachable code.
    const transactKinds = new Set(chunks.flatMap((chunk) => [...chunk.transactKinds]));
    for (const chunk of chunks) {
      if (chunk.tagDeclaration) {
        tagWrites.push(parseTagWrite(model, chunk.names[0] ?? "?", chunk.tagDeclaration, read, modelOf));
      }
    }
    for (const chunk of chunks) {
      checkTagWrites(model, chunk, read, modelOf);
      for (const use of chunk.commands) {
        for (const action of actionsOfCommand(use.pkg, use.command, transactKinds, model.path)) {
          addUse(provenance, action, `${model.path}: ${use.command}`);
        }
      }
    }
  }
  const direct = Object.keys(provenance);
  for (const action of withDependents(direct)) {
    if (!direct.includes(action)) addUse(provenance, action, "dependent action (build/iam/sdk-actions.ts)");
  }
  return {
    actions: Object.keys(provenance).sort(),
    tagWrites: tagWrites.sort((a, b) => a.declaredIn.localeCompare(b.declaredIn)),
    modules: [...reached.keys()].map((m) => m.path).sort(),
    provenance,
  };
}

// ---------------------------------------------------------------------------------------------
// Tag writes: the tags a function writes come from declarations next to the calls
// (src/iam/tag-writes.ts); the scan reads the declarations it reaches, and refuses a tag list
// built any other way, since the CreateTags grant would not cover it.

const TAGGED_RESOURCES: readonly TaggedResourceType[] = ["instance", "security-group", "snapshot", "image"];
const CREATING_ACTIONS: readonly CreatingAction[] = ["CreateSecurityGroup", "CreateSnapshot"];

export class UndeclaredTagWriteError extends Error {
  constructor(where: string, what: string) {
    super(
      `${where}: ${what}; build tag lists with a declareTagWrite declaration's tags() or specification() (src/iam/tag-writes.ts), so that ec2:CreateTags is granted for them`,
    );
    this.name = "UndeclaredTagWriteError";
  }
}

const describe = (expression: StringExpression) =>
  expression.kind === "string"
    ? JSON.stringify(expression.value)
    : expression.kind === "identifier"
      ? expression.name
      : expression.text;

/** The string a constant names: a literal, or an identifier of a `const` (followed across imports). */
function resolveString(
  model: ModuleModel,
  expression: StringExpression,
  read: ReadSource,
  modelOf: ModelOf,
  depth = 0,
): string {
  if (expression.kind === "string") return expression.value;
  if (depth > 10 || expression.kind === "other") {
    throw new UndeclaredTagWriteError(
      model.path,
      `tag key ${describe(expression)} is not a string literal or constant`,
    );
  }
  const name = expression.name;
  if (model.chunks.some((c) => c.names.includes(name))) {
    const value = model.constants.get(name);
    if (!value) throw new UndeclaredTagWriteError(model.path, `tag key ${name} is not a constant`);
    return resolveString(model, value, read, modelOf, depth + 1);
  }
  const binding = model.imports.get(name) ?? model.reexports.get(name);
  if (binding?.specifier.startsWith(".")) {
    const target = modelOf(resolveModule(model.path, binding, read));
    const local = target.exportAliases.get(binding.imported) ?? binding.imported;
    return resolveString(target, { kind: "identifier", name: local }, read, modelOf, depth + 1);
  }
  throw new UndeclaredTagWriteError(model.path, `cannot resolve the tag key ${name}`);
}

function parseTagWrite(
  model: ModuleModel,
  name: string,
  syntax: TagDeclarationSyntax,
  read: ReadSource,
  modelOf: ModelOf,
): DerivedTagWrite {
  const where = `${model.path}: ${name}`;
  const at = `${model.path}:${syntax.line}: ${name}`;
  const [unexpected] = syntax.unexpected;
  if (unexpected !== undefined)
    throw new UndeclaredTagWriteError(
      at,
      `the scan reads only resource, keys and atCreation, not ${unexpected}`,
    );
  const literal = (expression: StringExpression | undefined) =>
    expression?.kind === "string" ? expression.value : undefined;
  const resource = literal(syntax.resource) as TaggedResourceType | undefined;
  const atCreation = literal(syntax.atCreation) as CreatingAction | undefined;
  if (!resource || !TAGGED_RESOURCES.includes(resource))
    throw new UndeclaredTagWriteError(at, `resource must be one of ${TAGGED_RESOURCES.join(", ")}`);
  if (syntax.atCreation !== undefined && (atCreation === undefined || !CREATING_ACTIONS.includes(atCreation)))
    throw new UndeclaredTagWriteError(at, `atCreation must be one of ${CREATING_ACTIONS.join(", ")}`);
  if (syntax.keys === undefined) throw new UndeclaredTagWriteError(at, "no keys: [...] list");
  const keys = syntax.keys.map((key) => resolveString(model, key, read, modelOf));
  if (keys.length === 0) throw new UndeclaredTagWriteError(at, "an empty keys list");
  return { resource, keys, ...(atCreation ? { atCreation } : {}), declaredIn: where };
}

/** Whether an identifier names a tag declaration (in its module or the one it is imported from). */
function isTagDeclaration(
  model: ModuleModel,
  identifier: string,
  read: ReadSource,
  modelOf: ModelOf,
): boolean {
  const chunk = model.chunks.find((c) => c.names.includes(identifier));
  if (chunk) return chunk.tagDeclaration !== undefined;
  const binding = model.imports.get(identifier);
  if (!binding?.specifier.startsWith(".")) return false;
  const target = modelOf(resolveModule(model.path, binding, read));
  return isTagDeclaration(
    target,
    target.exportAliases.get(binding.imported) ?? binding.imported,
    read,
    modelOf,
  );
}

/** A chunk that writes tags must build every tag list from a declaration. */
function checkTagWrites(model: ModuleModel, chunk: TopLevelChunk, read: ReadSource, modelOf: ModelOf) {
  const createTags = chunk.commands.filter((use) => use.command === "CreateTagsCommand");
  const specifies = chunk.tagLists.some((list) => list.property === "TagSpecifications");
  if (createTags.length === 0 && !specifies) return;
  const hidden = createTags.find((use) => !use.tagsVisible);
  if (hidden)
    throw new UndeclaredTagWriteError(
      `${model.path}:${hidden.line}`,
      "a CreateTagsCommand whose Tags the scan cannot see",
    );
  const used: string[] = [];
  for (const list of chunk.tagLists) {
    if (!list.declarations)
      throw new UndeclaredTagWriteError(
        `${model.path}:${list.line}`,
        list.property === "Tags"
          ? `a tag list written by hand (Tags: ${list.text}…)`
          : `TagSpecifications written by hand (${list.text}…)`,
      );
    used.push(...list.declarations);
  }
  for (const identifier of used) {
    if (!isTagDeclaration(model, identifier, read, modelOf))
      throw new UndeclaredTagWriteError(model.path, `${identifier} is not a declareTagWrite declaration`);
  }
}

export function usedActionsOfAllFunctions(read: ReadSource): Record<PhoenixFunction, UsedActions> {
  return Object.fromEntries(
    PHOENIX_FUNCTIONS.map((name) => [name, usedActionsOfFunction(name, read)]),
  ) as Record<PhoenixFunction, UsedActions>;
}

// ---------------------------------------------------------------------------------------------
// State machines

/**
 * Service integrations a Phoenix workflow may use besides invoking its own functions, with the
 * IAM action each needs. Anything else in a Task Resource is refused: it would either need a
 * permission nobody reviewed or run a function outside the catalogue.
 */
export const ALLOWED_OPTIMIZED_INTEGRATIONS: Record<string, string> = {
  "sns:publish": "sns:Publish",
  "dynamodb:getItem": "dynamodb:GetItem",
  "dynamodb:putItem": "dynamodb:PutItem",
  "dynamodb:updateItem": "dynamodb:UpdateItem",
  "dynamodb:deleteItem": "dynamodb:DeleteItem",
};

/** `arn:aws:states:::aws-sdk:<service>:<action>` services a workflow may call directly. */
export const ALLOWED_SDK_SERVICES: Record<string, string> = {
  ec2: "ec2",
  autoscaling: "autoscaling",
  dynamodb: "dynamodb",
  sns: "sns",
  sfn: "states",
};

export interface TaskUse {
  state: string;
  resource: string;
  /** The catalogued function a Lambda task invokes. */
  function?: PhoenixFunction;
  /** The IAM action the state machine's role needs for this task. */
  action: string;
}

export interface StateMachineUses {
  tasks: TaskUse[];
  functions: PhoenixFunction[];
  actions: string[];
}

const PLACEHOLDER = /^\$\{([A-Za-z0-9_]+)\}$/;

function functionOfPlaceholder(value: unknown, where: string): PhoenixFunction {
  const key = typeof value === "string" ? value.match(PLACEHOLDER)?.[1] : undefined;
  const fn = PHOENIX_FUNCTIONS.find((name) => placeholderOf(name) === key);
  if (!fn) {
    throw new Error(
      `${where}: FunctionName ${JSON.stringify(value)} is not the placeholder of a catalogued function (src/catalog.ts)`,
    );
  }
  return fn;
}

type AslState = {
  Type?: string;
  Resource?: unknown;
  Parameters?: Record<string, unknown>;
  Arguments?: Record<string, unknown>;
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
};
type AslMachine = { States?: Record<string, AslState> };

function taskUse(state: string, task: AslState, where: string): TaskUse {
  const resource = String(task.Resource);
  const at = `${where} state ${state}`;
  const lambda = resource.match(/^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/);
  if (lambda) {
    const fn = functionOfPlaceholder((task.Parameters ?? task.Arguments)?.FunctionName, at);
    return { state, resource, function: fn, action: "lambda:InvokeFunction" };
  }
  if (PLACEHOLDER.test(resource)) {
    return {
      state,
      resource,
      function: functionOfPlaceholder(resource, at),
      action: "lambda:InvokeFunction",
    };
  }
  const sdk = resource.match(/^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)$/);
  if (sdk) {
    const prefix = ALLOWED_SDK_SERVICES[sdk[1] as string];
    if (!prefix) throw new Error(`${at}: SDK integration ${resource} is not an allowed service`);
    const operation = (sdk[2] as string).charAt(0).toUpperCase() + (sdk[2] as string).slice(1);
    return { state, resource, action: `${prefix}:${operation}` };
  }
  const optimized = resource.match(/^arn:aws:states:::([a-z]+:[A-Za-z]+)$/);
  const action = optimized ? ALLOWED_OPTIMIZED_INTEGRATIONS[optimized[1] as string] : undefined;
  if (!action)
    throw new Error(
      `${at}: Task Resource ${resource} is neither a catalogued function nor an allowed integration`,
    );
  return { state, resource, action };
}

function collectTasks(machine: AslMachine, where: string, into: TaskUse[]) {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    if (state.Type === "Task") into.push(taskUse(name, state, where));
    const nested = [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])];
    for (const inner of nested) if (inner) collectTasks(inner, where, into);
  }
}

/** What a state machine definition (placeholders not yet substituted) invokes and needs. */
export function stateMachineUses(definition: unknown, where: string): StateMachineUses {
  const tasks: TaskUse[] = [];
  collectTasks(definition as AslMachine, where, tasks);
  const functions = [...new Set(tasks.flatMap((t) => (t.function ? [t.function] : [])))].sort();
  const actions = [...new Set(tasks.map((t) => t.action))].sort();
  return { tasks, functions, actions };
}
