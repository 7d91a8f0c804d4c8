// Live notifications over the WebSocket API. The access token goes in the query string (the
// handshake cannot carry a header from a browser); a dropped connection comes back with
// growing pauses and a fresh token, and the caller re-reads what it may have missed.
import { freshToken, settings } from './api.js';

export function connectLive({ onNotice, onState }) {
  let ws = null;
  let stopped = false;
  let pause = 1000;
  let timer = null;

  async function open() {
    // A reconnect after a long sleep must not present an expired token (refused forever).
    const token = await freshToken();
    if (stopped || !token) return;
    ws = new WebSocket(`${settings().wsUrl}?token=${encodeURIComponent(token)}`);
    ws.onopen = () => { pause = 1000; onState(true); };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      if (message && message.type === 'notification') onNotice(message.notification);
    };
    ws.onclose = () => {
      if (stopped) return; // closed by the page itself (signed out, or the shell went away)
      onState(false);
      if (!stopped) timer = setTimeout(open, pause);
      pause = Math.min(pause * 2, 30000);
    };
  }

  open();
  return () => { stopped = true; clearTimeout(timer); if (ws) ws.close(); };
}
