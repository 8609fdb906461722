/**
 * What the broker needs from lower layers, in one place.
 * @module
 */
export { randomBytes, wipe } from "../crypto/index.ts";
export { formatKeyId } from "../keys/strings.ts";
export { TTL_LIMITS } from "../config/ttl.ts";
