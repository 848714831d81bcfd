/**
 * Phoenix's one entry to zod. `zod/mini` is the tree-shakable functional API (a Lambda bundles
 * only the schemas and checks it uses, where classic `zod` drags in ~450 KB of method-chaining
 * classes). Unlike classic `zod`, it loads no locale, so every default message would read
 * "Invalid input": this module installs the English one (only that locale is bundled), exactly
 * what classic `zod` does on import. Import z from here, never from "zod" or "zod/mini" directly.
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

export * from "zod/mini";
