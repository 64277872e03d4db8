import type { ParseOptions } from './parse-markdown.js';
import { parseLegacyOrca } from './parse-legacy.js';
import { printOrcaMarkdown } from './print-markdown.js';

/**
 * Converts a legacy brace-DSL `.orca` source to `.orca.md` (the `orca convert` command). The
 * legacy source is parsed (so a broken file fails here with its diagnostics, not later), then
 * printed; the markdown re-parses to the same AST.
 *
 * Comments in the legacy file are not carried over: the AST does not keep them.
 *
 * @example
 * ```ts
 * const markdown = legacyToMarkdown(readFileSync('payment.orca', 'utf8'));
 * ```
 * @throws OrcaParseError when the legacy source does not parse.
 */
export function legacyToMarkdown(source: string, options: ParseOptions = {}): string {
  return printOrcaMarkdown(parseLegacyOrca(source, options));
}
