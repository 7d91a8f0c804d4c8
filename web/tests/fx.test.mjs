// node --test web/tests: the exchange quote's helpers (countdown, amounts per currency, rates).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buyCurrencies, countdownAnnouncement, formatCountdown, LAST_CALL, MARGIN_MS, quoteDeadline, quoteRequest, rateText,
  secondsLeft, significant,
} from '../src/fx.js';
import { setExponents } from '../src/money.js';

setExponents({ USD: 2, EUR: 2, JPY: 0, GBP: 2 });

const QUOTE = { created_at: '2025-01-01T12:00:00Z', expires_at: '2025-01-01T12:00:30Z' };

test('the countdown reads minutes and seconds', () => {
  assert.equal(formatCountdown(30), '0:30');
  assert.equal(formatCountdown(9), '0:09');
  assert.equal(formatCountdown(75), '1:15');
  assert.equal(formatCountdown(0), '0:00');
  assert.equal(formatCountdown(-3), '0:00');
});

test('seconds left round up, and never go below zero', () => {
  assert.equal(secondsLeft(10_000, 0), 10);
  assert.equal(secondsLeft(10_000, 9_001), 1); // "0:01" until it is really over
  assert.equal(secondsLeft(10_000, 10_000), 0);
  assert.equal(secondsLeft(10_000, 99_000), 0);
});

test('the deadline counts the quote\'s own life from its arrival, whatever this clock says', () => {
  const arrived = 5_000_000;
  // The server's clock (expires_at) is years away from this one's: only the 30 s of life count.
  const deadline = quoteDeadline(QUOTE, arrived);
  assert.equal(deadline, arrived + 30_000 - MARGIN_MS);
  assert.equal(secondsLeft(deadline, arrived), 29);
  assert.equal(secondsLeft(deadline, arrived + 28_500), 1);
  assert.equal(secondsLeft(deadline, arrived + 29_000), 0); // expired: a margin before the server's end
  assert.equal(quoteDeadline({ created_at: 'x', expires_at: 'y' }, arrived), arrived); // unreadable: expired
});

test('a quote expires: the countdown reaches 0 and stays there (the screen then offers a new quote)', () => {
  const arrived = 1_000;
  const deadline = quoteDeadline(QUOTE, arrived);
  const seen = [];
  for (let t = arrived; t <= arrived + 40_000; t += 250) seen.push(secondsLeft(deadline, t));
  assert.equal(seen[0], 29);
  assert.ok(seen.every((s, i) => i === 0 || s <= seen[i - 1]), 'never goes back up');
  assert.equal(seen.at(-1), 0);
  assert.equal(seen.filter((s) => s === 0).length, seen.length - seen.indexOf(0));
});

test('screen readers hear the countdown a few times, not every second', () => {
  const total = 29;
  const said = [];
  for (let left = total; left >= 0; left -= 1) said.push(countdownAnnouncement(left, total, 'You get €91.97.'));
  const changes = said.filter((text, i) => i === 0 || text !== said[i - 1]);
  assert.deepEqual(changes, [
    'You get €91.97. Rate guaranteed for 29 seconds.',
    `${LAST_CALL} seconds left to confirm this rate.`,
    'The quote has expired: its rate is no longer guaranteed. Get a new quote.',
  ]);
  assert.equal(countdownAnnouncement(5, 5), 'Rate guaranteed for 5 seconds.'); // short: no "10 left"
  assert.equal(countdownAnnouncement(1, 1), 'Rate guaranteed for 1 second.');
});

test('the amount typed is parsed in its own side\'s currency', () => {
  assert.deepEqual(quoteRequest({ sell: 'USD', buy: 'EUR', side: 'sell', text: '100' }),
    { sell_currency: 'USD', buy_currency: 'EUR', sell_amount: 10000 });
  assert.deepEqual(quoteRequest({ sell: 'USD', buy: 'JPY', side: 'buy', text: '10,000' }),
    { sell_currency: 'USD', buy_currency: 'JPY', buy_amount: 10000 });
  assert.deepEqual(quoteRequest({ sell: 'JPY', buy: 'USD', side: 'sell', text: '1500' }),
    { sell_currency: 'JPY', buy_currency: 'USD', sell_amount: 1500 });
  assert.deepEqual(quoteRequest({ sell: 'JPY', buy: 'USD', side: 'buy', text: '0.29' }),
    { sell_currency: 'JPY', buy_currency: 'USD', buy_amount: 29 });
  // Yen have no decimals; cents no third.
  assert.equal(quoteRequest({ sell: 'JPY', buy: 'USD', side: 'sell', text: '15.5' }), null);
  assert.equal(quoteRequest({ sell: 'USD', buy: 'JPY', side: 'buy', text: '15.5' }), null);
  assert.equal(quoteRequest({ sell: 'USD', buy: 'EUR', side: 'sell', text: '1.005' }), null);
  assert.equal(quoteRequest({ sell: 'USD', buy: 'EUR', side: 'sell', text: '' }), null);
  assert.equal(quoteRequest({ sell: 'USD', buy: 'EUR', side: 'buy', text: '0' }), null);
  assert.deepEqual(quoteRequest({ sell: 'EUR', buy: 'USD', side: 'sell', text: '12,50' }, 'de-DE'),
    { sell_currency: 'EUR', buy_currency: 'USD', sell_amount: 1250 });
});

test('rates are cut, never rounded up, to 6 significant digits', () => {
  assert.equal(significant('149.49847391786903439695'), '149.498');
  assert.equal(significant('0.92302990384757674806'), '0.923029');
  assert.equal(significant('0.0066555789'), '0.00665557');
  assert.equal(significant('1.5'), '1.5');
  assert.equal(significant('2.000000'), '2');
  assert.equal(significant('15734.123456'), '15734.1');
  assert.equal(rateText('149.49847391786903439695', 'USD', 'JPY'), '1 USD = 149.498 JPY');
});

test('one buys any configured currency but the wallet\'s own', () => {
  assert.deepEqual(buyCurrencies(['USD', 'EUR', 'JPY'], 'USD'), ['EUR', 'JPY']);
  assert.deepEqual(buyCurrencies(undefined, 'USD'), []);
});
