// node --test web/tests (run by tests/unit/test_web_modules.py)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimals, formatMoney, parseAmount, setExponents } from '../src/money.js';

test('decimals come from the currency', () => {
  assert.equal(decimals('USD'), 2);
  assert.equal(decimals('JPY'), 0);
  assert.equal(decimals('EUR'), 2);
});

test('formatting: minor units to the currency, JPY without decimals', () => {
  assert.equal(new Intl.NumberFormat('en-US', { style: 'currency', currency: 'JPY' }).format(1500), '¥1,500');
  assert.match(formatMoney(1250, 'USD'), /12\.50/);
  assert.match(formatMoney(1500, 'JPY'), /1,500|1\u202f500|1 500|1\.500/);
  assert.doesNotMatch(formatMoney(1500, 'JPY'), /\.00/);
});

test('parsing: major units typed by a person to integer minor units', () => {
  assert.equal(parseAmount('12.5', 'USD'), 1250);
  assert.equal(parseAmount('12.50', 'USD'), 1250);
  assert.equal(parseAmount(' 1,000 ', 'USD'), 100000);
  assert.equal(parseAmount('0.01', 'USD'), 1);
  assert.equal(parseAmount('1500', 'JPY'), 1500);
  // 0.1 + 0.2 style float errors cannot happen: string arithmetic.
  assert.equal(parseAmount('0.29', 'USD'), 29);
  assert.equal(parseAmount('1.15', 'EUR'), 115);
});

test('parsing refuses what is not a positive amount in that currency', () => {
  for (const bad of ['', '0', '0.00', '-1', '1.005', '1e3', 'abc', '12.', '.5', 'NaN', '9999999999999999999']) {
    assert.equal(parseAmount(bad, 'USD'), null, bad);
  }
  assert.equal(parseAmount('15.5', 'JPY'), null);
});

test('parsing follows the locale, and refuses what it could misread', () => {
  assert.equal(parseAmount('12,50', 'EUR', 'de-DE'), 1250);
  assert.equal(parseAmount('1.250,5', 'EUR', 'de-DE'), 125050);
  assert.equal(parseAmount('12.50', 'EUR', 'de-DE'), null); // a group separator before 2 digits
  assert.equal(parseAmount('12,50', 'USD', 'en-US'), null); // not 1250
  assert.equal(parseAmount('1,250.50', 'USD', 'en-US'), 125050);
  assert.equal(parseAmount('1 250,50', 'EUR', 'fr-FR'), 125050);
});

test('the server\'s exponents win over the browser\'s', () => {
  setExponents({ HUF: 2 });
  assert.equal(decimals('HUF'), 2);
  assert.equal(parseAmount('10.50', 'HUF', 'en-US'), 1050);
  assert.match(formatMoney(1050, 'HUF', 'en-US'), /10\.50/);
});
