/**
 * The deployed bills handler as Lambda loads it: it builds its runtime from the environment once, and
 * a stage missing its configuration (here: no BILLS_BUCKET) answers a stopped summary, never a throw.
 */
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/bills';

describe('functions/bills', () => {
  it('answers CONFIG when the environment lacks what the function needs', async () => {
    const saved = process.env.BILLS_BUCKET;
    delete process.env.BILLS_BUCKET;
    try {
      expect(await handler({})).toEqual({ billDate: '', merchants: [], stopped: 'CONFIG' });
    } finally {
      if (saved !== undefined) process.env.BILLS_BUCKET = saved;
    }
  });
});
