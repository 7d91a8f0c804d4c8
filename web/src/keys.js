// One idempotency key per form content: the same content sent again (after a timeout, a
// double click, a lost answer) replays the first attempt; changed content is a new payment.
import { useRef } from 'preact/hooks';
import { newKey } from './api.js';

export function useKeyFor() {
  const last = useRef({ content: null, key: null });
  return (content) => {
    const text = JSON.stringify(content);
    if (last.current.content !== text) last.current = { content: text, key: newKey() };
    return last.current.key;
  };
}
