// Amounts travel as integer minor units; people read and type major units. Intl knows how
// many decimals each currency has (JPY none, most two), so nothing here hard-codes them.

const cache = new Map();

export function decimals(currency) {
  if (!cache.has(currency)) {
    const f = new Intl.NumberFormat('en', { style: 'currency', currency });
    cache.set(currency, f.resolvedOptions().maximumFractionDigits);
  }
  return cache.get(currency);
}

export function formatMoney(minor, currency) {
  const d = decimals(currency);
  return new Intl.NumberFormat(undefined, {
    style: 'currency', currency, minimumFractionDigits: d, maximumFractionDigits: d,
  }).format(minor / 10 ** d);
}

// "12.5" USD -> 1250; "1,000" JPY -> 1000. Null for anything that is not a positive amount
// with at most the currency's decimals. String arithmetic, so 0.1 + 0.2 never bites.
export function parseAmount(text, currency) {
  const d = decimals(currency);
  const clean = String(text).trim().replace(/[\s,]/g, '');
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
  return d === 0 ? `Whole ${currency} only, e.g. 1500` : `In ${currency}, e.g. ${(12.5).toFixed(d)}`;
}
