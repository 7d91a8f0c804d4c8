// Idempotency keys for money actions. A key is kept only while an attempt's outcome is
// unknown (no answer, or a 5xx): sending the same content again then replays that attempt
// instead of paying twice. Once the outcome is known (paid, or refused for a reason), the
// same content is a new action with a new key: a second identical payment made on purpose is
// a second payment, and a declined card can be tried again.
import { useRef } from 'preact/hooks';
import { newKey } from './api.js';

function unknownOutcome(err) {
  return err && (err.status === 0 || err.status >= 500);
}

export function useIdempotency() {
  const pending = useRef(new Map()); // content -> key of an attempt whose outcome is unknown
  return async (content, call) => {
    const text = JSON.stringify(content);
    const key = pending.current.get(text) || newKey();
    pending.current.set(text, key);
    try {
      const result = await call(key);
      pending.current.delete(text);
      return result;
    } catch (err) {
      if (!unknownOutcome(err)) pending.current.delete(text);
      throw err;
    }
  };
}
