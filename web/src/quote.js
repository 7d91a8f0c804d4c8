// A quote on screen: asking for one, its figures, and its countdown (shared by the Exchange and
// Send screens). The arithmetic of time is fx.js's; this is the part that renders and ticks.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { countdownAnnouncement, formatCountdown, quoteDeadline, rateText, secondsLeft } from './fx.js';
import { formatMoney } from './money.js';

// The quote shown, with its deadline on this browser's clock; `ask(request)` gets a new one.
export function useQuote() {
  const [held, setHeld] = useState(null); // { quote, deadline, total, request }
  // Each ask and each clear starts a new generation: a quote that arrives after the form has
  // changed (or after a newer ask) answers a question nobody asks any more, and is dropped.
  const generation = useRef(0);
  const ask = async (request) => {
    generation.current += 1;
    const mine = generation.current;
    const quote = await api('POST', '/fx/quotes', request);
    if (mine !== generation.current) return null;
    const now = Date.now();
    const deadline = quoteDeadline(quote, now);
    setHeld({ quote, deadline, total: secondsLeft(deadline, now), request });
    return quote;
  };
  return {
    held, quote: held && held.quote, ask,
    clear: () => { generation.current += 1; setHeld(null); },
    // The API said it is over (409 quote_expired or quote_used): the countdown ends now.
    expire: () => setHeld((h) => h && { ...h, deadline: Date.now() }),
  };
}

// Seconds left until `deadline`, re-read a few times a second (a tab in the background may be
// slowed down: the figure is always computed from the clock, never counted down).
export function useSecondsLeft(deadline) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!deadline) return undefined;
    setNow(Date.now());
    const timer = setInterval(() => {
      const t = Date.now();
      setNow(t);
      if (t >= deadline) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [deadline]);
  return deadline ? secondsLeft(deadline, now) : 0;
}

// The countdown a person sees: a timer that screen readers do not read out every second (role
// timer is not live); they hear the sparse sentences of Announcer instead.
export function Countdown({ left }) {
  return html`<div class="countdown" data-testid="quote-countdown">
    ${left > 0
      ? html`<p>Rate guaranteed for <span role="timer" class="timer">${formatCountdown(left)}</span></p>`
      : html`<p class="expired">This quote has expired: its rate is no longer guaranteed.</p>`}
  </div>`;
}

// A polite live region that stays on the screen whether or not a quote is shown (a region
// inserted together with its text is often not read), its sentence changing only a few times
// in a quote's life: when it arrives (with `lead`, the figure that matters), 10 seconds before
// the end, at the end.
export function Announcer({ held, left, lead }) {
  const text = held ? countdownAnnouncement(left, held.total, lead) : '';
  return html`<p class="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="quote-announcement">${text}</p>`;
}

// The quote's figures. `headline` is what the screen leads with ("You get €91.97", "They
// receive ¥14,949").
export function QuoteFigures({ quote, headline, sellLabel = 'You sell', buyLabel = 'You get' }) {
  const { sell, buy, fee } = quote;
  return html`
    <p class="headline" data-testid="quote-headline">${headline}</p>
    <dl class="figures">
      <dt>${sellLabel}</dt><dd data-testid="quote-sell">${formatMoney(sell.amount, sell.currency)}</dd>
      <dt>${buyLabel}</dt><dd data-testid="quote-buy">${formatMoney(buy.amount, buy.currency)}</dd>
      <dt>Our rate</dt><dd data-testid="quote-rate">${rateText(quote.rate, sell.currency, buy.currency)}</dd>
      <dt>Fee (included)</dt><dd data-testid="quote-fee">${formatMoney(fee.amount, fee.currency)}</dd>
      <dt>Reference rate</dt><dd data-testid="quote-mid">${rateText(quote.mid_rate, sell.currency, buy.currency)}
        <span class="muted"> (European Central Bank)</span></dd>
    </dl>`;
}
