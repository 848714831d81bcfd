export * from "./rules.js";
export * from "./targets.js";
