// Types of scenario.cjs, for the TypeScript consumers (ts-jest).
import type * as hush from "hush-broker";

declare function scenario(sdk: typeof hush, file: string, given?: { client?: hush.Client; slot?: hush.Lease; index?: number }): Promise<void>;
export = scenario;
