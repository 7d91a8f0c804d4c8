// Amounts travel as integer minor units; people read and type major units. How many decimals
// a currency has is the server's rule (config.json `exponents`, from the same table the API
// uses); Intl is only the fallback, since browsers disagree with ISO 4217 on a few (HUF, IDR).

const exponents = new Map();

export function setExponents(table) {
  Object.entries(table || {}).forEach(([currency, digits]) => exponents.set(currency, digits));
}

export function decimals(currency) {
  if (!exponents.has(currency)) {
    const f = new Intl.NumberFormat('en', { style: 'currency', currency });
    exponents.set(currency, f.resolvedOptions().maximumFractionDigits);
  }
  return exponents.get(currency);
}

export function formatMoney(minor, currency, locale = undefined) {
  const d = decimals(currency);
  return new Intl.NumberFormat(locale, {
    style: 'currency', currency, minimumFractionDigits: d, maximumFractionDigits: d,
  }).format(minor / 10 ** d);
}

function separators(locale) {
  const parts = new Intl.NumberFormat(locale).formatToParts(12345.6);
  const find = (type) => (parts.find((p) => p.type === type) || {}).value;
  return { decimal: find('decimal') || '.', group: find('group') || '' };
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// What a person typed, in their locale ("12.50" in en, "12,50" in de), to integer minor
// units; null for anything that is not a positive amount with at most the currency's
// decimals. A group separator must be followed by exactly three digits, so "12,50" in en is
// refused rather than read as 1250. String arithmetic: 0.29 stays 29 cents.
export function parseAmount(text, currency, locale = undefined) {
  const d = decimals(currency);
  const { decimal, group } = separators(locale);
  let clean = String(text).trim().replace(/[\s\u00a0\u202f]/g, '');
  if (group && group.trim() && group !== decimal) {
    if (new RegExp(`${escape(group)}(?!\\d{3}(?:\\D|$))`).test(clean)) return null;
    clean = clean.split(group).join('');
  }
  if (decimal !== '.') {
    if (clean.includes('.')) return null;
    clean = clean.replace(decimal, '.');
  }
  const pattern = d > 0 ? new RegExp(`^(\\d+)(?:\\.(\\d{1,${d}}))?$`) : /^(\d+)$/;
  const m = clean.match(pattern);
  if (!m) return null;
  const whole = m[1].replace(/^0+(?=\d)/, '');
  const frac = (m[2] || '').padEnd(d, '0');
  const minor = Number(whole + frac);
  return Number.isSafeInteger(minor) && minor > 0 ? minor : null;
}

export function amountHint(currency) {
  const d = decimals(currency);
  const example = formatMoney(d === 0 ? 1500 : 1250, currency).replace(/[^\d.,\s\u00a0\u202f]/g, '').trim();
  return d === 0 ? `Whole ${currency} only, e.g. ${example}` : `In ${currency}, e.g. ${example}`;
}
