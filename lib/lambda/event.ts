/** What the invoked functions (closeOrder, refund) share when reading an event: the event as one JSON object. */
import { malformed } from '../errors';

// a double-encoded JSON event is tolerated; anything longer is not a request of these functions
const MAX_STRING_EVENT = 4096;

/** The event as an object: a JSON string (at most 4,096 characters) is parsed; anything else is MALFORMED. */
export function eventObject(event: unknown): Record<string, unknown> {
  let value = event;
  if (typeof value === 'string') {
    if (value.length > MAX_STRING_EVENT) throw malformed('event is too large');
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw malformed('event is not a JSON object');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('event must be an object');
  return value as Record<string, unknown>;
}
