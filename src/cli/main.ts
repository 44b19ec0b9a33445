#!/usr/bin/env node
import { OnnxLowerError, UsageError } from '../ir/errors';
import { checkCommand, checkHelp } from './check';
import { diffCommand, diffHelp } from './diff';
import { inspectCommand, inspectHelp } from './inspect';
import { lowerCommand, lowerHelp } from './lower';
import { passesCommand, passesHelp } from './passes';
import { runCommand, runHelp } from './run';

type Command = { run: (argv: string[], out: (s: string) => void) => number | Promise<number>; help: string };

const commands: Record<string, Command> = {
  inspect: { run: inspectCommand, help: inspectHelp },
  lower: { run: lowerCommand, help: lowerHelp },
  diff: { run: diffCommand, help: diffHelp },
  passes: { run: passesCommand, help: passesHelp },
  run: { run: runCommand, help: runHelp },
  check: { run: checkCommand, help: checkHelp },
};

const usage = () => `onnx-lower — a compiler middle-end for LLM ONNX exports

Usage: onnx-lower <command> [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(9)} ${c.help.split('\n')[1]?.trim() ?? ''}`).join('\n')}

Run 'onnx-lower <command> --help' for a command's options.`;

/** Runs the CLI; returns the exit code (0 ok, 1 error, 2 usage). */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    out(require('../../package.json').version as string);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    err(`onnx-lower: unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')}`);
    return 2;
  }
  try {
    return await cmd.run(rest, out);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`onnx-lower ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof OnnxLowerError) {
      err(`onnx-lower ${name}: error [${e.code}]: ${e.message}`);
      return 1;
    }
    err(`onnx-lower ${name}: internal error: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.ONNX_LOWER_DEBUG) err((e as Error)?.stack ?? '');
    return 1;
  }
}

if (require.main === module) {
  // A reader that goes away (`onnx-lower passes | head`) is not an error: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
