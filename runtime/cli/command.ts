/** A CLI subcommand: receives the arguments after its name, resolves to the process exit code. */
export type Command = (argv: string[]) => Promise<number>;
