/** Bytes to text for untrusted input: invalid UTF-8 is refused, never silently replaced with U+FFFD. */
import { malformed } from './errors';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly; MALFORMED naming `what` when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what = 'body'): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
}
