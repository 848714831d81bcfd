export { defaultPolicy, loadPolicy, loadPolicyFile, PolicyError, parsePolicy } from "./load.js";
export * from "./schema.js";
