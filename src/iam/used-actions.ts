/**
 * The IAM actions Phoenix's code and workflows actually use, derived from the source, so that
 * the deployed policies follow the code instead of a list kept by hand beside it.
 *
 * Functions: start from every export of functions/<name>.ts and follow what is reachable:
 * within a module, from a top-level declaration to the declarations and imports its text
 * mentions; across modules, from an imported name to that module's declaration of it (re-exports
 * followed). `import type` and all-`type` lists are erased by the compiler and not followed.
 * Every `new XxxCommand(` of an AWS SDK v3 package inside a reachable declaration counts; each
 * maps to its IAM action(s) (sdk-actions.ts), plus the actions AWS checks on the caller's behalf.
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
import { PHOENIX_FUNCTIONS, type PhoenixFunction, placeholderOf } from "../catalog.js";
import { actionsOfCommand, withDependents } from "./sdk-actions.js";
import {
  commandsIn,
  type ModuleModel,
  mentionedIdentifiers,
  parseModule,
  transactKindsIn,
} from "./source-scan.js";

/** Reads a file by its path relative to the repository root; undefined when it does not exist. */
export type ReadSource = (repoPath: string) => string | undefined;

export interface UsedActions {
  /** Sorted, unique. */
  actions: string[];
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
function resolveModule(from: string, specifier: string, read: ReadSource): string {
  const joined = joinPath(dirOf(from), specifier);
  const candidates = joined.endsWith(".js")
    ? [`${joined.slice(0, -3)}.ts`, joined]
    : [joined, `${joined}.ts`, `${joined}/index.ts`];
  for (const candidate of candidates) if (read(candidate) !== undefined) return candidate;
  throw new Error(`${from}: cannot resolve import "${specifier}" (tried ${candidates.join(", ")})`);
}

const ALL = "*";

/**
 * Walks what an entry point reaches, declaration by declaration. Returns, per module, the
 * indexes of its reachable top-level chunks.
 */
function reachableChunks(entry: string, read: ReadSource): Map<ModuleModel, Set<number>> {
  const models = new Map<string, ModuleModel>();
  const modelOf = (path: string): ModuleModel => {
    let model = models.get(path);
    if (!model) {
      const source = read(path);
      if (source === undefined) throw new Error(`${path}: not found`);
      model = parseModule(path, source);
      models.set(path, model);
    }
    return model;
  };
  const reached = new Map<ModuleModel, Set<number>>();
  const requested = new Set<string>();
  const pending: [path: string, name: string][] = [[entry, ALL]];

  const follow = (model: ModuleModel, specifier: string, name: string) => {
    // Packages (the SDK, middy, zod…) are not Phoenix's code; AWS calls they make on Phoenix's
    // behalf go through commands Phoenix constructs, which the scan sees.
    if (specifier.startsWith(".")) pending.push([resolveModule(model.path, specifier, read), name]);
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
      for (const specifier of model.wholeImports) follow(model, specifier, ALL);
    }

    const start: number[] = [];
    if (name === ALL) {
      for (let index = 0; index < model.chunks.length; index++) start.push(index);
      for (const [exported, binding] of model.reexports)
        follow(model, binding.specifier, binding.imported || exported);
      for (const specifier of model.starExports) follow(model, specifier, ALL);
    } else if (name.startsWith("#")) {
      start.push(Number(name.slice(1)));
    } else {
      const local = model.exportAliases.get(name) ?? name;
      const index = model.chunks.findIndex((chunk) => chunk.names.includes(local));
      const reexport = model.reexports.get(name);
      const imported = model.imports.get(local);
      if (index >= 0) start.push(index);
      else if (reexport) follow(model, reexport.specifier, reexport.imported);
      else if (imported) follow(model, imported.specifier, imported.imported);
      else for (const specifier of model.starExports) follow(model, specifier, name);
    }

    for (const index of start) {
      if (chunks.has(index)) continue;
      chunks.add(index);
      for (const identifier of mentionedIdentifiers(model.chunks[index]?.text ?? "")) {
        const sibling = model.chunks.findIndex((chunk) => chunk.names.includes(identifier));
        if (sibling >= 0 && sibling !== index) pending.push([path, `#${sibling}`]);
        const binding = model.imports.get(identifier);
        if (binding) follow(model, binding.specifier, binding.imported);
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
  const reached = reachableChunks(functionEntry(name), read);
  const provenance: Record<string, string[]> = {};
  for (const [model, indexes] of reached) {
    const texts = [...indexes].sort((a, b) => a - b).map((index) => model.chunks[index]?.text ?? "");
    // The items of a transaction may be built in a helper next to the send: take the kinds
    // written anywhere in the module's reachable code.
    const transactKinds = transactKindsIn(texts.join("\n"));
    for (const text of texts) {
      for (const use of commandsIn(model, text)) {
        for (const action of actionsOfCommand(use.pkg, use.command, transactKinds, model.path)) {
          addUse(provenance, action, `${model.path}: ${use.command}`);
        }
      }
    }
  }
  const direct = Object.keys(provenance);
  for (const action of withDependents(direct)) {
    if (!direct.includes(action)) addUse(provenance, action, "dependent action (src/iam/sdk-actions.ts)");
  }
  return {
    actions: Object.keys(provenance).sort(),
    modules: [...reached.keys()].map((m) => m.path).sort(),
    provenance,
  };
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
