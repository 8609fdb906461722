/**
 * The `ws` package ships no types; ws-open.ts declares the few members it
 * uses (`NodeWs`) and loads the module dynamically.
 * @module
 */
declare module "ws";
