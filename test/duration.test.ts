import { describe, expect, it } from 'vitest';
import { toMs } from '../src/util/duration.js';

describe('durations', () => {
  it('reads milliseconds and unit strings', () => {
    expect(toMs(250)).toBe(250);
    expect(toMs('250ms')).toBe(250);
    expect(toMs('30s')).toBe(30_000);
    expect(toMs('5m')).toBe(300_000);
    expect(toMs('1h')).toBe(3_600_000);
    expect(toMs('2d')).toBe(172_800_000);
    expect(toMs('1h30m')).toBe(5_400_000);
    expect(toMs('1.5s')).toBe(1_500);
  });

  it('rejects malformed durations with the accepted forms', () => {
    expect(() => toMs('soon')).toThrow(/Invalid duration 'soon'.*'30s'/);
    expect(() => toMs('5 parsecs')).toThrow(/INVALID|Invalid/);
    expect(() => toMs(-1)).toThrow(/Invalid/);
    expect(() => toMs('')).toThrow(/Invalid/);
  });
});
