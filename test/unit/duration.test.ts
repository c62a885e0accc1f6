import { formatDuration } from '../../src/plan/duration';

describe('formatDuration', () => {
  test.each([
    [0, '0 ms'],
    [500, '500 ms'],
    [999.4, '999 ms'],
    [1_000, '1 s'],
    [15_000, '15 s'],
    [20_000, '20 s'],
    [29_600, '30 s'],
    [59_400, '59 s'],
    [59_600, '1 min'], // rounds to 60 s, which is a minute, not "60 s"
    [60_000, '1 min'],
    [90_000, '1 min 30 s'],
    [15 * 60_000, '15 min'],
    [60 * 60_000, '60 min'],
    [2 * 3_600_000 + 5_000, '120 min 5 s'],
  ])('%p ms reads %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %p', (ms) => {
    expect(() => formatDuration(ms)).toThrow(/not a duration/);
  });
});
