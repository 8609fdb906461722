/**
 * What a new run of the audit writer checks before its first line
 * (AuditWriter.open, PROTOCOL.md §9.1 and §9.4), in this order: the sealing
 * state file can be rewritten (before the audit file is created or
 * touched); the audit file opens and is locked (file.ts); a file sealed in
 * format 2 is not continued without a sealing state (an unsealed run after
 * format-2 runs is what a downgrade looks like, and the verifier refuses
 * it); the state agrees with the file's last seal (SealStateFile.reconcile;
 * a fast-forward is saved after the start seal).
 * @module
 */
import { closeSync } from "node:fs";
import { HushError } from "../errors.ts";
import { openAuditFile, type OpenedAuditFile } from "./file.ts";
import type { SealStateFile } from "./state-file.ts";

/**
 * Open `path` for a run sealed with `sealing` (or unsealed). Returns the
 * opened file and the notes of reconcile. Throws HushError
 * `invalid_request` (a state file that cannot be rewritten, what
 * openAuditFile refuses, a sealed file without a state, a state that
 * cannot vouch for the file's last seal) or `conflict` (the file is
 * locked); the audit file is closed then, and the state file too (the
 * writer owns it).
 */
export function openForRun(path: string, sealing: SealStateFile | undefined): OpenedAuditFile & { notes: string[] } {
  let fd = -1;
  try {
    if (sealing) {
      try {
        sealing.persist();
      } catch (e: any) {
        throw new HushError("invalid_request", `cannot rewrite audit state file ${sealing.path} (${e?.code ?? e}): the daemon's user must be able to create files in its directory`);
      }
    }
    const opened = openAuditFile(path); // locked: one daemon per audit file
    fd = opened.fd;
    if (!sealing && opened.lastSeal?.keyId !== undefined) {
      throw new HushError("invalid_request", `audit file ${path} is sealed (format 2, key id ${opened.lastSeal.keyId}): start the daemon with --audit-state-file (the sealing state of that key); an unsealed run appended to it would fail hush audit verify`, {
        hint: "or start a new --audit-file to run without sealing",
      });
    }
    const notes = sealing ? sealing.reconcile(opened.lastSeal, path) : [];
    return { ...opened, notes };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    sealing?.close(); // the writer owns it: its lock is dropped with the failed start
    throw e;
  }
}
