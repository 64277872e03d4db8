import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/util/ids.js';

describe('uuidv7', () => {
  it('is a version 7 UUID with the time in front, in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]?.slice(0, 13).replace('-', '')).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
    expect(uuidv7(1_700_000_000_001) > (ids.at(-1) as string)).toBe(true);
  });
});
