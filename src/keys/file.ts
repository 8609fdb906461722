/**
 * Key file format (age-style): comment lines with `# created:` and, where one
 * exists, `# public key:`, `# addresses:` (the daemons a join token or a
 * credential is for, PROTOCOL.md §2 "Daemon addresses"), then the secret
 * string on its own line.
 * Formatting and parsing only; writing happens in cmd/ (exclusive create, 0600).
 * @module
 */

/** The header line that lists daemon addresses (comma-separated, in the order to try them). */
const ADDRESSES = "# addresses:";

export function formatKeyFile(secret: string, opts: { kind: string; publicKey?: string; created?: Date; note?: string; addresses?: string | undefined }): string {
  const lines = [`# hush ${opts.kind}`, `# created: ${(opts.created ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z")}`];
  if (opts.publicKey) lines.push(`# public key: ${opts.publicKey}`);
  if (opts.addresses) lines.push(`${ADDRESSES} ${opts.addresses}`);
  if (opts.note) lines.push(`# ${opts.note}`);
  lines.push(secret, "");
  return lines.join("\n");
}

/** The first non-comment, non-empty line of a key file. */
export function parseKeyFile(text: string): string {
  for (const l of text.split(/\r?\n/)) {
    const t = l.trim();
    if (t && !t.startsWith("#")) return t;
  }
  return "";
}

/**
 * The text after `# addresses:` in a key file's header (the comment lines
 * before the key string), trimmed; undefined when there is none (a bare
 * key string, or a file written before addresses existed). The list is
 * parsed by its user (src/client/addresses.ts).
 */
export function keyFileAddresses(text: string): string | undefined {
  for (const l of text.split(/\r?\n/)) {
    const t = l.trim();
    if (t.toLowerCase().startsWith(ADDRESSES)) return t.slice(ADDRESSES.length).trim() || undefined;
    if (t && !t.startsWith("#")) return undefined;
  }
  return undefined;
}
