// Exchange quotes in the browser: what to ask POST /fx/quotes for, how long a quote's rate is
// still guaranteed, and that time and the rates in words. Pure functions (tested under node);
// the screens' parts are in quote.js.
import { parseAmount } from './money.js';

// The quote request for what a person typed in one of the two amounts ('sell' or 'buy'), each
// parsed in its own currency (JPY whole, USD cents...); null when it is not an amount there.
export function quoteRequest({ sell, buy, side, text }, locale = undefined) {
  const amount = parseAmount(text, side === 'buy' ? buy : sell, locale);
  if (amount === null) return null;
  return { sell_currency: sell, buy_currency: buy, [side === 'buy' ? 'buy_amount' : 'sell_amount']: amount };
}

// When the quote stops being guaranteed, on this browser's clock. The API's expires_at is on
// the server's clock, which a device's may differ from by minutes: the quote's own life
// (expires_at - created_at) is counted from the moment its answer arrived instead, less a
// margin for the confirmation to travel back, so the countdown never promises time the server
// no longer gives.
export const MARGIN_MS = 1000;

export function quoteDeadline(quote, receivedAt) {
  const life = Date.parse(quote.expires_at) - Date.parse(quote.created_at);
  if (!Number.isFinite(life)) return receivedAt; // unreadable: treat as expired, ask again
  return receivedAt + Math.max(0, life - MARGIN_MS);
}

// Whole seconds left (rounded up: "0:01" until it is really over), never below 0.
export function secondsLeft(deadline, now) {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

// 27 -> "0:27", 75 -> "1:15": what the countdown shows.
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function secondsWords(s) {
  return s === 1 ? '1 second' : `${s} seconds`;
}

// What a screen reader is told about the countdown: a sentence that changes only a few times in
// a quote's life (when it arrives, 10 seconds before the end, at the end), never every second.
export const LAST_CALL = 10;

// `lead` (the quote's main figure, "You get €91.97.") goes with the first sentence only.
export function countdownAnnouncement(left, total, lead = '') {
  if (left <= 0) return 'The quote has expired: its rate is no longer guaranteed. Get a new quote.';
  if (left <= LAST_CALL && total > LAST_CALL) return `${secondsWords(LAST_CALL)} left to confirm this rate.`;
  return `${lead ? `${lead} ` : ''}Rate guaranteed for ${secondsWords(total)}.`;
}

// A decimal string cut (never rounded up) to `digits` significant digits: "149.49847391786903439695"
// -> "149.498"; "0.006656" stays "0.006656". String arithmetic, as for amounts.
export function significant(text, digits = 6) {
  const m = String(text).match(/^(\d+)(?:\.(\d+))?$/);
  if (!m) return String(text);
  const whole = m[1].replace(/^0+(?=\d)/, '');
  const frac = m[2] || '';
  let kept = 0;
  let out = '';
  const all = whole + frac;
  for (let i = 0; i < all.length; i += 1) {
    if (i === whole.length) out += '.';
    const c = all[i];
    if (kept > 0 || c !== '0') kept += 1;
    if (kept > digits && i >= whole.length) break;
    out += kept > digits ? '0' : c;
  }
  if (out.includes('.')) out = out.replace(/0+$/, '').replace(/\.$/, '');
  return out || '0';
}

// "1 USD = 149.498 JPY"
export function rateText(rate, sell, buy) {
  return `1 ${sell} = ${significant(rate)} ${buy}`;
}

// The currencies one can buy with a wallet of `sell`: every configured one but its own.
export function buyCurrencies(currencies, sell) {
  return (currencies || []).filter((c) => c !== sell);
}
