import type { Plugin } from "esbuild";

export declare const literalSchemaKeys: Plugin;
export declare function withLiteralKeys(source: string): string;
declare const plugins: Plugin[];
export default plugins;
