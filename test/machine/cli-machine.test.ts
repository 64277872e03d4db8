/**
 * `keel machine …` as a user runs it: the real CLI in child processes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLegacyOrca } from '../../src/machine/parse-legacy.js';
import { parseOrcaMarkdown } from '../../src/machine/parse-markdown.js';

const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const example = (name: string): string => fileURLToPath(new URL(`../../../shared/orca-examples/${name}`, import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'keel-machine-cli-'));
  dirs.push(d);
  return d;
};

function keel(args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
      env: { ...process.env, KEEL_STORE: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

/** The AST without source positions (the two formats put things on different lines). */
const withoutLoc = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'loc' ? undefined : x)));

describe('keel machine verify', () => {
  it('a valid machine: exit 0', async () => {
    const r = await keel(['machine', 'verify', example('simple-toggle.orca.md')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/valid, no issues/);
  });

  it('errors: exit 1, with code, severity, line, message and suggestion', async () => {
    const file = example('payment-with-properties.orca.md');
    const r = await keel(['machine', 'verify', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`error   INCOMPLETE_EVENT_HANDLING  ${file}:25:4  (PaymentWithProperties/idle/payment_authorized)`);
    expect(r.out).toMatch(/State 'idle' neither handles nor ignores event 'payment_authorized'/);
    expect(r.out).toMatch(/fix: Add a transition 'idle \+ payment_authorized -> <target>'/);
    expect(r.out).toMatch(/invalid, 30 errors, 1 warning\n$/);
  });

  it('warnings only: exit 0', async () => {
    const r = await keel(['machine', 'verify', fixture('cli/warnings-only.orca.md')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/warning ORPHAN_ACTION .*warnings-only\.orca\.md:27:3/);
    expect(r.out).toMatch(/valid, 0 errors, 1 warning/);
  });

  it('--json gives the verifier result; parse errors are errors with their code and line', async () => {
    const warn = await keel(['machine', 'verify', '--json', fixture('cli/warnings-only.orca.md')]);
    expect(warn.code).toBe(0);
    expect(JSON.parse(warn.out)).toMatchObject({
      valid: true,
      errors: [{ code: 'ORPHAN_ACTION', severity: 'warning', location: { machine: 'Lamp', line: 27 }, suggestion: expect.any(String) }],
    });
    const broken = await keel(['machine', 'verify', '--json', fixture('cli/duplicate-state.orca.md')]);
    expect(broken.code).toBe(1);
    const result = JSON.parse(broken.out) as { valid: boolean; errors: { code: string; location: { line: number } }[] };
    expect(result.valid).toBe(false);
    expect(result.errors[0]).toMatchObject({ code: 'DUPLICATE_STATE', severity: 'error', location: { line: 9 } });
  });

  it('a legacy file verifies too; a missing file is an error', async () => {
    const legacy = await keel(['machine', 'verify', example('payment-processor.legacy.orca')]);
    expect(legacy.code).toBe(1);
    expect(legacy.out).toMatch(/INCOMPLETE_EVENT_HANDLING/);
    const missing = await keel(['machine', 'verify', 'nope.orca.md']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.orca\.md/);
  });
});

describe('keel machine mermaid and convert', () => {
  it('mermaid prints a stateDiagram-v2', async () => {
    const r = await keel(['machine', 'mermaid', example('hierarchical-game.orca.md')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(r.out).toMatch(/\[\*\] --> idle/);
    expect(r.out).toMatch(/state exploration \{/);
  });

  it('convert prints markdown that re-parses to the legacy AST; -o writes it', async () => {
    const legacy = example('payment-processor.legacy.orca');
    const r = await keel(['machine', 'convert', legacy]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^# machine PaymentProcessor/);
    const original = parseLegacyOrca(readFileSync(legacy, 'utf8'));
    expect(withoutLoc(parseOrcaMarkdown(r.out))).toEqual(withoutLoc(original));

    const target = join(tempDir(), 'payment.orca.md');
    const w = await keel(['machine', 'convert', legacy, '-o', target]);
    expect(w.code, w.err).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(r.out);
  });
});

describe('keel machine run and send', () => {
  it('run: shows the state, the context and the accepted events, sends what is typed, q quits', async () => {
    const r = await keel(['machine', 'run', example('simple-toggle.orca.md')], 'toggle\n2\nexplode\nq\n');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/SimpleToggle — run \S+ on sqlite::memory:/);
    expect(r.out).toContain('state:   off\ncontext: {"count":0}\nevents:  1) toggle  2) reset  q) quit');
    expect(r.out).toContain('✓ toggle: off → on');
    expect(r.out).toContain('✓ reset: on → off');
    expect(r.out).toContain('✗ explode: not taken: No transition for event explode from off');
  });

  it('run: nested and parallel machines, payloads, effects without handlers, and a final state', async () => {
    const r = await keel(
      ['machine', 'run', example('parallel-order.orca.md'), '--context', '{"order_id":"o-1"}'],
      'PLACE_ORDER {"amount": 5}\nPAYMENT_SUCCESS\nEMAIL_SENT\nSMS_SENT\n',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('context: {"order_id":"o-1","payment_status":null,"notification_status":null,"amount":0}');
    expect(r.out).toContain('state:   processing.payment_flow.charging, processing.notification_flow.sending_email');
    expect(r.out).toContain('events:  1) CANCEL  2) PAYMENT_SUCCESS  3) PAYMENT_FAILED  4) EMAIL_SENT  q) quit');
    expect(r.out).toContain('effect PaymentCharge failed: No handler registered for effect type: PaymentCharge');
    expect(r.out).toContain('✓ SMS_SENT: processing.payment_flow.paid, processing.notification_flow.sending_sms → completed');
    expect(r.out).toMatch(/state: {3}completed \(final\)\n.*\nThe run has completed\./);
  });

  it('run refuses a machine with verifier errors unless its codes are accepted', async () => {
    const refused = await keel(['machine', 'run', example('hierarchical-game.orca.md')], 'q\n');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/\[MACHINE_INVALID\]/);
    expect(refused.err).toMatch(/--accept INCOMPLETE_EVENT_HANDLING/);
    const accepted = await keel(
      ['machine', 'run', example('hierarchical-game.orca.md'), '--accept', 'INCOMPLETE_EVENT_HANDLING'],
      'start_game\nq\n',
    );
    expect(accepted.code, accepted.err).toBe(0);
    expect(accepted.out).toContain('✓ start_game: idle → exploration.overworld');
  });

  it('a run on a SQLite file goes on in the next process: run --id continues it, send drives it from scripts', async () => {
    const store = `sqlite:${join(tempDir(), 'keel.db')}`;
    const file = example('simple-toggle.orca.md');
    const first = await keel(['machine', 'run', file, '--store', store, '--id', 'lamp-1'], 'toggle\nq\n');
    expect(first.code, first.err).toBe(0);

    const sent = await keel(['machine', 'send', file, 'lamp-1', 'toggle', '--store', store, '--json']);
    expect(sent.code, sent.err).toBe(0);
    expect(JSON.parse(sent.out)).toMatchObject({ runId: 'lamp-1', result: { taken: true, from: 'on', to: 'off' }, state: 'off' });

    const refused = await keel(['machine', 'send', file, 'lamp-1', 'explode', '--store', store]);
    expect(refused.code, refused.err).toBe(0);
    expect(refused.out).toContain('✗ explode: not taken: No transition for event explode from off');

    const again = await keel(['machine', 'run', file, '--store', store, '--id', 'lamp-1'], 'q\n');
    expect(again.out).toContain('state:   off');
    expect(again.out).toContain('run lamp-1');

    const notFound = await keel(['machine', 'send', file, 'nope', 'toggle', '--store', store]);
    expect(notFound.code).toBe(1);
    expect(notFound.err).toMatch(/\[NOT_FOUND\]/);
  });
});
