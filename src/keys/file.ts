/**
 * Key file format (age-style): comment lines with `# created:` and, where one
 * exists, `# public key:`, then the secret string on its own line.
 * Formatting and parsing only; writing happens in cmd/ (exclusive create, 0600).
 * @module
 */

export function formatKeyFile(secret: string, opts: { kind: string; publicKey?: string; created?: Date; note?: string }): string {
  const lines = [`# hush ${opts.kind}`, `# created: ${(opts.created ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z")}`];
  if (opts.publicKey) lines.push(`# public key: ${opts.publicKey}`);
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
