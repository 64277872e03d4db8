import { ConfigError, ErrorCode } from '../core/errors.js';

/** A duration: milliseconds, or a string such as '250ms', '30s', '5m', '1h', '2d', '1w', '1h30m'. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const PART = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)/gy;

/** Parse a duration to milliseconds; throws a ConfigError that shows the accepted forms. */
export function toMs(duration: Duration, what = 'duration'): number {
  if (typeof duration === 'number') {
    if (Number.isFinite(duration) && duration >= 0) return duration;
    throw invalid(String(duration), what);
  }
  const text = duration.trim();
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  let matched = 0;
  PART.lastIndex = 0;
  for (;;) {
    while (text[PART.lastIndex] === ' ') PART.lastIndex++;
    if (PART.lastIndex >= text.length) break;
    const m = PART.exec(text);
    if (!m) throw invalid(duration, what);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    matched++;
  }
  if (matched === 0) throw invalid(duration, what);
  return Math.round(total);
}

function invalid(text: string, what: string): ConfigError {
  return new ConfigError(
    `Invalid ${what} '${text}': use milliseconds (a number) or a string such as '250ms', '30s', '5m', '1h', '2d', '1w' or '1h30m'.`,
    ErrorCode.InvalidDuration,
  );
}
