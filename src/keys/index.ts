/**
 * Key and token strings and key files.
 * @module
 */
export * from "./strings.ts";
export * from "./file.ts";
export * from "./x509.ts";
