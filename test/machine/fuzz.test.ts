import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OrcaParseError } from '../../src/machine/errors.js';
import { parseLegacyOrca } from '../../src/machine/parse-legacy.js';
import { parseOrcaMarkdown } from '../../src/machine/parse-markdown.js';
import { verifyFile } from '../../src/machine/verify.js';

/**
 * Malformed input of any kind must end in an OrcaParseError (or a parse), never in another
 * exception, a hang or a stack overflow; whatever parses must also verify without throwing.
 * Inputs are seeded so a failure reproduces: the failing seed is in the assertion message.
 */

const EXAMPLES = fileURLToPath(new URL('../../../shared/orca-examples', import.meta.url));
const markdownExamples = ['simple-toggle', 'payment-with-properties', 'hierarchical-game', 'parallel-order'].map((n) =>
  readFileSync(`${EXAMPLES}/${n}.orca.md`, 'utf8'),
);
const legacyExample = readFileSync(`${EXAMPLES}/payment-processor.legacy.orca`, 'utf8');

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = '#|-`[]{}()<>!=,.:*>_ \n\tabcxyz019"\'\\\u0000\u00e9→';

function mutate(text: string, random: () => number): string {
  let s = text;
  const n = 1 + Math.floor(random() * 8);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(random() * (s.length + 1));
    const op = Math.floor(random() * 7);
    if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(random() * 20));
    else if (op === 1) s = s.slice(0, at) + (ALPHABET.charAt(Math.floor(random() * ALPHABET.length)) ?? '') + s.slice(at);
    else if (op === 2) s = s.slice(0, at); // truncation
    else if (op === 3) {
      const lines = s.split('\n');
      const a = Math.floor(random() * lines.length);
      const b = Math.floor(random() * lines.length);
      [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      s = lines.join('\n');
    } else if (op === 4) {
      const lines = s.split('\n');
      const a = Math.floor(random() * lines.length);
      lines.splice(a, 0, lines[Math.floor(random() * lines.length)] ?? '');
      s = lines.join('\n');
    } else if (op === 5) s = s.replace(/#+/, (h) => (random() < 0.5 ? `${h}#` : h.slice(1)));
    else s = s.slice(0, at) + s.slice(at).replace(/\[[^\]\n]*\]/, random() < 0.5 ? '' : '[parallel, final]');
  }
  return s;
}

function randomBytes(random: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(Math.floor(random() * 256));
  return s;
}

/** Parses and verifies; returns what happened, and fails the test on anything but a parse error. */
function survive(source: string, legacy: boolean, label: string): 'parsed' | 'rejected' {
  try {
    const file = legacy ? parseLegacyOrca(source) : parseOrcaMarkdown(source);
    expect(() => verifyFile(file), `${label}: verify threw`).not.toThrow();
    return 'parsed';
  } catch (err) {
    if (err instanceof OrcaParseError) {
      expect(err.diagnostics.length, label).toBeGreaterThan(0);
      for (const d of err.diagnostics) {
        expect(d.line, label).toBeGreaterThanOrEqual(1);
        expect(d.column, label).toBeGreaterThanOrEqual(1);
        expect(d.message.length, label).toBeGreaterThan(10);
      }
      return 'rejected';
    }
    throw new Error(`${label}: ${String(err)}`, { cause: err });
  }
}

describe('fuzzing the parsers', () => {
  it('survives seeded mutations of the markdown examples', () => {
    const outcome = { parsed: 0, rejected: 0 };
    for (let seed = 1; seed <= 600; seed++) {
      const random = rng(seed);
      const base = markdownExamples[seed % markdownExamples.length] ?? '';
      outcome[survive(mutate(base, random), false, `markdown seed ${seed}`)]++;
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(outcome.parsed).toBeGreaterThan(10);
    expect(outcome.rejected).toBeGreaterThan(10);
  });

  it('survives seeded mutations of the legacy example', () => {
    const outcome = { parsed: 0, rejected: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      outcome[survive(mutate(legacyExample, rng(seed)), true, `legacy seed ${seed}`)]++;
    }
    expect(outcome.rejected).toBeGreaterThan(10);
  });

  it('rejects random bytes in both syntaxes', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = rng(10_000 + seed);
      const bytes = randomBytes(random, 1 + Math.floor(random() * 4000));
      expect(survive(bytes, false, `bytes seed ${seed}`)).toBe('rejected');
      survive(bytes, true, `legacy bytes seed ${seed}`);
      survive(`# machine M\n${bytes}`, false, `machine + bytes seed ${seed}`);
    }
  });

  it('handles multi-megabyte inputs in linear time', () => {
    const many = Array.from({ length: 800 }, (_, i) => (markdownExamples[i % 4] ?? '').replace(/# machine (\w+)/, `# machine $1_${i}`)).join('\n---\n');
    expect(many.length).toBeGreaterThan(2_000_000);
    const file = parseOrcaMarkdown(many);
    expect(file.machines).toHaveLength(800);

    // One enormous line of each kind the block scanner treats specially.
    for (const line of ['# machine M\n## state ' + 'a'.repeat(3_000_000), '| ' + '|'.repeat(2_000_000), '#'.repeat(2_000_000), '- ' + ' '.repeat(2_000_000) + 'x', '`'.repeat(2_000_000)]) {
      survive(line, false, `long line ${line.slice(0, 12)}`);
    }
    // Deep nesting that a naive recursive parser would overflow on.
    survive(`machine M\n${'state s [initial] {\n'.repeat(50_000)}`, true, 'deep legacy nesting');
    const deepGuard = `# machine M\n## state a [initial]\n## guards\n| Name | Expression |\n|---|---|\n| g | \`${'('.repeat(100_000)}x${')'.repeat(100_000)}\` |`;
    survive(deepGuard, false, 'deep guard');
    survive(`machine M\n${'}'.repeat(1_000_000)}`, true, 'legacy closing braces');
  });
});
