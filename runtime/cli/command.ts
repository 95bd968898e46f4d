/** A CLI subcommand: receives the arguments after its name, resolves to the process exit code. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GlimmerError } from '../errors';

export type Command = (argv: string[]) => Promise<number>;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses a subcommand's options strictly; an unknown or malformed option is GLM_ERR_USAGE (exit 2). */
export function parseOptions<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new GlimmerError('GLM_ERR_USAGE', (err as Error).message);
  }
}

/** Prints a subcommand's help text and returns exit code 0. */
export function printHelp(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
