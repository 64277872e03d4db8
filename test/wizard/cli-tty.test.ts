/**
 * The interactive wizard and the REPL through a real pseudo-terminal (tmux): keys go in, and the
 * test reads what the screen shows. Each test has its own tmux server (socket), killed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'keel-tty-'));
const sockets: string[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) {
    try {
      execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A terminal running `keel <args>`, 120×40. */
function terminal(name: string, args: string[]) {
  // A socket of its own in the test folder: its own server, removed with the folder.
  const socket = join(dir, `${name}.tmux`);
  sockets.push(socket);
  const tmux = (...a: string[]): string => execFileSync('tmux', ['-S', socket, ...a], { encoding: 'utf8' });
  const command = [
    `cd ${quote(repo)} &&`,
    `KEEL_HISTORY=${quote(join(dir, `${name}.history`))} KEEL_DEFINITIONS=`,
    `${quote(process.execPath)} --import tsx src/cli/main.ts`,
    ...args.map(quote),
    `--store ${quote(`sqlite:${join(dir, `${name}.db`)}`)};`,
    'echo "[exit $?]"; sleep 60',
  ].join(' ');
  tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', name, command);
  const screen = (): string => tmux('capture-pane', '-p', '-J', '-t', name);
  return {
    screen,
    keys: (...keys: string[]): void => void tmux('send-keys', '-t', name, ...keys),
    /** Type text literally (no key names). */
    type: (text: string): void => void tmux('send-keys', '-t', name, '-l', text),
    /** Wait until the shell prompt is the last line again (the command has finished). */
    async idle(): Promise<void> {
      await this.waitFor(/keel>\s*$/);
    },
    /** Poll the screen until `expected` shows (bounded); returns the screen. */
    async waitFor(expected: string | RegExp, timeoutMs = 20_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        if (typeof expected === 'string' ? s.includes(expected) : expected.test(s)) return s;
        if (Date.now() > deadline) throw new Error(`The screen never showed ${String(expected)}:\n${s}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('interactive terminal', () => {
  it('keel wizard start: validation in place, arrow keys, going back, the summary table and the commit', async () => {
    const t = terminal('wizard', ['wizard', 'start', 'onboard']);
    await t.waitFor('◆  Full name: What is the new member');
    t.type('A');
    t.keys('Enter');
    await t.waitFor('Enter at least 2 characters');
    t.type('da Lovelace');
    t.keys('Enter');
    await t.waitFor('◆  Email: Their work email address?');
    t.type('ada@example.com');
    t.keys('Enter');
    await t.waitFor('● admin');
    t.keys('Down', 'Down', 'Enter');
    let s = await t.waitFor('◆  Review your answers');
    expect(s).toMatch(/Full name\s+Ada Lovelace/);
    expect(s).toMatch(/Role\s+designer/);

    // Back to the email through the menu; the kept answer is offered for editing.
    t.keys('Down', 'Enter');
    await t.waitFor('◆  Go back to');
    t.keys('Down', 'Enter');
    await t.waitFor(/◆ {2}Email: .*\n│ {2}ada@example\.com/);
    t.keys('BSpace', 'BSpace', 'BSpace');
    t.type('org');
    t.keys('Enter');
    await t.waitFor('◆  Role: Which role');
    t.keys('Enter');
    s = await t.waitFor('◆  Review your answers');
    expect(s).toMatch(/Email\s+ada@example\.org/);
    t.keys('Enter');
    await t.waitFor('◆  Apply changes and finalize?');
    t.keys('Enter');
    s = await t.waitFor('[exit 0]');
    expect(s).toContain('Changes applied');
    expect(s).toMatch(/Done\. Run \S+ completed\./);
    expect(s).toMatch(/Role\s+designer/);
  });

  it('keel repl: commands, a wizard answered line by line, completion of names and run ids, exit', async () => {
    const t = terminal('repl', ['repl']);
    await t.waitFor('keel>');
    t.type('wiz');
    t.keys('Tab');
    await t.waitFor('keel> wizard');
    t.type(' start on');
    t.keys('Tab');
    await t.waitFor('keel> wizard start onboard');
    t.type(' --id onb-7');
    t.keys('Enter');
    await t.waitFor("Started wizard 'onboard': run onb-7");
    await t.idle();
    t.type('input A');
    t.keys('Enter');
    await t.waitFor('✗ Enter at least 2 characters');
    await t.idle();
    t.type('input "Ada Lovelace"');
    t.keys('Enter');
    await t.waitFor('[2/5] Email (email)');
    await t.idle();
    t.type('back name');
    t.keys('Enter');
    await t.waitFor('(current answer: Ada Lovelace)');
    await t.idle();
    t.type('ls');
    t.keys('Enter');
    await t.waitFor(/onb-7\s+onboard\s+waiting/);
    await t.idle();
    t.type('inspect onb');
    t.keys('Tab');
    await t.waitFor('keel> inspect onb-7');
    t.keys('Enter');
    // The history scrolls the run's header off the screen; its last entries stay.
    await t.waitFor(/"type":"back","slug":"name"[^\n]*\n[^\n]*state\.set/);
    await t.idle();
    t.type('nope');
    t.keys('Enter');
    await t.waitFor("unknown command 'nope'");
    await t.idle();
    t.type('exit');
    t.keys('Enter');
    await t.waitFor('[exit 0]');
  });
});
