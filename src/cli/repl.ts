/**
 * `keel repl`: an interactive shell for every `keel` command (`ls`, `inspect <id>`,
 * `wizard start onboard`, `input Ada`, `back name`, …), with history and tab completion of
 * command names, definition names and run ids.
 *
 * Each line is parsed by the same commander program as the command line, so the shell never
 * drifts from the CLI. The shell's `--store`, `--config` and `--definitions` are given to every
 * command it runs that takes them, unless the line sets its own. Inside the shell, `wizard start` does not take over the terminal: it prints
 * the first prompt, and `input` / `back` continue the run.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type AsyncCompleter } from 'node:readline';
import { CommanderError, type Command } from 'commander';
import { createEngine } from '../engine/engine.js';
import { coerceError } from '../core/errors.js';
import { resolveSettings } from './config.js';
import { definitionsDir, type CliSettings } from './wizard.js';

const BUILTINS = ['help', 'exit', 'quit'];
/** Commands whose next argument is a run id. */
const TAKES_RUN_ID = new Set(['inspect', 'cancel', 'signal', 'resume']);

/** Split a line into words; single and double quotes group words, a backslash escapes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i] as string;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + (line[++i] as string);
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function historyFile(): string {
  return process.env.KEEL_HISTORY || join(homedir(), '.keel_history');
}

function loadHistory(file: string): string[] {
  try {
    // readline wants the newest entry first.
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500) : [];
  } catch {
    return [];
  }
}

/** Register `keel repl` on the program. */
export function registerRepl(program: Command): void {
  program
    .command('repl')
    .description('an interactive shell for every command, with history and tab completion')
    .option('--store <url>', 'store URL (default from the config, $KEEL_STORE, or sqlite:./keel.db)')
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js|mjs)')
    .option('--definitions <dir>', 'wizard definitions folder (default from the config, $KEEL_DEFINITIONS, ./definitions, or the examples)')
    .action(async (o: CliSettings) => {
      const settings = await resolveSettings(o);
      const given: [string, string][] = [];
      for (const [flag, value] of [['--store', o.store], ['--config', o.config], ['--definitions', o.definitions]] as const) {
        if (value !== undefined) given.push([flag, value]);
      }
      await repl(program, settings.store, definitionsDir(settings.wizards), given);
    });
}

async function repl(program: Command, store: string, wizards: string, given: [string, string][]): Promise<void> {
  // A client engine (not started) for completions: it reads run ids and never executes runs.
  const client = createEngine({ store });
  const definitionNames = (): string[] => {
    try {
      return readdirNames(wizards);
    } catch {
      return [];
    }
  };
  const commandNames = (): string[] => [...program.commands.map((c) => c.name()).filter((n) => n !== 'repl'), ...BUILTINS];

  const candidates = async (words: string[]): Promise<string[]> => {
    const [first, second] = words;
    if (words.length <= 1) return commandNames();
    if (first === 'wizard' && words.length === 2) return program.commands.find((c) => c.name() === 'wizard')?.commands.map((c) => c.name()) ?? [];
    if (first === 'wizard' && second === 'start' && words.length === 3) return definitionNames();
    const previous = words[words.length - 2];
    if (previous === '--run' || (words.length === 2 && first !== undefined && TAKES_RUN_ID.has(first)) || (first === 'wizard' && second === 'resume')) {
      const { runs } = await client.listRuns({ limit: 100 });
      return runs.map((r) => r.id);
    }
    return [];
  };

  const completer: AsyncCompleter = (line, callback) => {
    const words = splitWords(line);
    if (/\s$/.test(line) || line === '') words.push('');
    const partial = words[words.length - 1] ?? '';
    candidates(words).then(
      (all) => callback(null, [all.filter((c) => c.startsWith(partial)).sort(), partial]),
      () => callback(null, [[], partial]),
    );
  };

  const file = historyFile();
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: 'keel> ',
    completer,
    history: loadHistory(file),
    historySize: 500,
    removeHistoryDuplicates: true,
  });
  process.stdout.write("Keel shell. Type 'help' for commands, Tab to complete, 'exit' to leave.\n");
  rl.prompt();
  try {
    for await (const line of rl) {
      const words = splitWords(line);
      if (words.length > 0) {
        try {
          appendFileSync(file, `${line}\n`);
        } catch {
          // History is a convenience: a read-only home must not break the shell.
        }
        if (words[0] === 'exit' || words[0] === 'quit') break;
        await execute(program, withShellFlags(program, words, given));
      }
      rl.prompt();
    }
  } finally {
    rl.close();
    await client.stop();
  }
}

function readdirNames(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.(json|ya?ml)$/i.test(f))
        .map((f) => f.replace(/\.(json|ya?ml)$/i, ''))
    : [];
}

/** The line's words with the shell's own flags added, for those the command takes and the line does not set. */
function withShellFlags(program: Command, words: string[], given: [string, string][]): string[] {
  let command: Command | undefined = program;
  for (const word of words) {
    const sub: Command | undefined = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    command = sub;
  }
  if (command === program) return words;
  const takes = new Set(command.options.map((o) => o.long));
  const added = given.filter(([flag]) => takes.has(flag) && !words.some((w) => w === flag || w.startsWith(`${flag}=`)));
  return [...words, ...added.flat()];
}

async function execute(program: Command, words: string[]): Promise<void> {
  if (words[0] === 'help') {
    program.outputHelp();
    return;
  }
  if (words[0] === 'repl') {
    process.stdout.write('Already in the shell.\n');
    return;
  }
  // The shell owns the terminal: a wizard started here is answered with `input` and `back`.
  if (words[0] === 'wizard' && words[1] === 'start' && !words.includes('--no-interactive')) words.push('--no-interactive');
  try {
    await program.parseAsync(words, { from: 'user' });
  } catch (err) {
    // Commander has printed its own message (unknown command, missing argument, help).
    if (err instanceof CommanderError) return;
    const e = coerceError(err) as Error & { code?: string };
    process.stdout.write(`error: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
  } finally {
    // An exit code set by one command (a refused answer) must not end the shell's own status.
    process.exitCode = undefined;
  }
}
