import type { Plugin } from "esbuild";

export declare const literalSchemaKeys: Plugin;
export declare const builtinsAsCommonJs: Plugin;
export declare const lambdaCredentials: Plugin;
export declare const lambdaPlugins: Plugin[];
export declare function withLiteralKeys(source: string): string;
export default lambdaPlugins;
