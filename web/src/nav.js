// Hash routes (#/home, #/send ...): static hosting serves one index.html for every screen.
export function currentRoute() {
  return (location.hash.replace(/^#\/?/, '') || 'home').split('?')[0];
}

export function go(route) { location.hash = `#/${route}`; }
