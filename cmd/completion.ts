/** `hush completion bash|zsh|fish`: a completion script made from the command tree. @module */
import { defineCommand } from "citty";
import { main } from "./_commands.ts";
import { bashScript, fishScript, zshScript } from "./_completion.ts";
import { UsageError } from "./_report.ts";

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

export default defineCommand({
  meta: { name: "completion", description: "Print a shell completion script (bash, zsh or fish)." },
  args: { shell: { type: "positional", required: true, description: "bash, zsh or fish" } },
  async run({ args }) {
    const make = SHELLS[args.shell as keyof typeof SHELLS];
    if (!make) throw new UsageError(`unknown shell ${JSON.stringify(args.shell)}`, "use bash, zsh or fish");
    process.stdout.write(await make(main));
    return 0;
  },
});
