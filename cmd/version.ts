/** `hush version`. @module */
import { defineCommand } from "citty";
import { COMMIT, VERSION } from "./_version.ts";
import { jsonArgs, printJson } from "./_shared.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version and the commit it was built from." },
  args: { ...jsonArgs },
  run({ args }) {
    if (args.json) printJson({ version: VERSION, commit: COMMIT, bun: Bun.version, platform: `${process.platform}-${process.arch}` });
    else process.stdout.write(`hush ${VERSION} (commit ${COMMIT}, bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
    return 0;
  },
});
