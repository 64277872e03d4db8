/**
 * Match what a person typed against a choice list, in this order: the exact value, a 1-based
 * index, a case-insensitive match, then a unique case-insensitive prefix. An ambiguous prefix
 * gets a message listing the choices it matches.
 */
export function matchChoice(input: unknown, choices: readonly string[]): { ok: true; value: string } | { ok: false; message: string } {
  const none = { ok: false as const, message: `Choose one of: ${choices.join(', ')}` };
  if (typeof input === 'number') {
    if (Number.isInteger(input) && input >= 1 && input <= choices.length) return { ok: true, value: choices[input - 1] as string };
    return none;
  }
  if (typeof input !== 'string') return none;
  if (choices.includes(input)) return { ok: true, value: input };
  const text = input.trim();
  if (text === '') return none;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= choices.length) return { ok: true, value: choices[n - 1] as string };
  }
  const lower = text.toLowerCase();
  const same = choices.filter((c) => c.toLowerCase() === lower);
  if (same.length === 1) return { ok: true, value: same[0] as string };
  const prefixed = choices.filter((c) => c.toLowerCase().startsWith(lower));
  if (prefixed.length === 1) return { ok: true, value: prefixed[0] as string };
  if (prefixed.length > 1) {
    return { ok: false, message: `'${text}' matches more than one choice: ${prefixed.join(', ')}. Type more of it, or its number.` };
  }
  return none;
}
