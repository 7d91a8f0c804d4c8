// The web wallet: boot (read config.json), the hash router and the signed-in shell with the
// navigation, the unread badge and live notices.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, configure, onAccountRefusal, onAuthChange, signedIn, signOut } from './api.js';
import { connectLive } from './live.js';
import { describeNotice } from './messages.js';
import { formatMoney, setExponents } from './money.js';
import { currentRoute, go } from './nav.js';
import { SignIn, SignUp, Forgot } from './screens/auth.js';
import { Home } from './screens/home.js';
import { Send } from './screens/send.js';
import { Exchange } from './screens/exchange.js';
import { Requests } from './screens/requests.js';
import { AddMoney } from './screens/add_money.js';
import { Withdraw } from './screens/withdraw.js';
import { Notifications } from './screens/notifications.js';
import { Security } from './screens/security.js';
import { Devices } from './screens/devices.js';
import { Sessions } from './screens/sessions.js';
import { Verify } from './screens/verify.js';
import { Statements } from './screens/statements.js';

const SCREENS = {
  home: ['Home', Home], send: ['Send', Send], exchange: ['Exchange', Exchange], requests: ['Requests', Requests],
  'add-money': ['Add money', AddMoney], withdraw: ['Withdraw', Withdraw],
  statements: ['Statements', Statements],
  notifications: ['Notifications', Notifications], security: ['Security', Security],
  devices: ['Offline devices', Devices],
};
// Screens reached from another screen, not from the navigation.
const LINKED = { sessions: ['Your sessions', Sessions] };
const PUBLIC = { signin: SignIn, signup: SignUp, forgot: Forgot };
// What an account without a verified contact may open: the API lets it read, verify and manage
// its sessions, nothing else.
const UNVERIFIED = { verify: Verify, sessions: Sessions };

function SignOutButton() {
  return html`<button class="link" type="button" onClick=${() => signOut().then(() => go('signin'))}>Sign out</button>`;
}


function Shell({ route }) {
  const [unread, setUnread] = useState(0);
  const [version, setVersion] = useState(0); // bumps on each live notice: screens re-read
  const [toast, setToast] = useState(null);
  const [live, setLive] = useState(false);

  const countUnread = () => api('GET', '/notifications?unread=true&limit=1')
    .then((page) => setUnread(page.unread_count)).catch(() => {});

  useEffect(() => connectLive({
    onNotice: (n) => {
      setUnread((u) => u + (n.read ? 0 : 1));
      setVersion((v) => v + 1);
      setToast(describeNotice(n, formatMoney));
    },
    // Connected (again): catch up on anything that arrived while the socket was down. Dropped:
    // ask the API at once, so a login signed out elsewhere (its socket closed by the API) meets
    // its 401 now and returns to the sign-in screen, not at its next click.
    onState: (up) => { setLive(up); countUnread(); if (up) setVersion((v) => v + 1); },
  }), []);
  useEffect(() => { countUnread(); }, []);
  useEffect(() => {
    if (!toast) return undefined;
    const t = setTimeout(() => setToast(null), 6000);
    return () => clearTimeout(t);
  }, [toast]);

  const [, Screen] = SCREENS[route] || LINKED[route] || SCREENS.home;
  const label = unread === 1 ? '1 unread notification' : `${unread} unread notifications`;
  return html`
    <header>
      <div class="bar">
        <a class="brand" href="#/home">E-wallet</a>
        <span class="status" data-testid="live-state">${live ? 'Live' : 'Connecting…'}</span>
        <${SignOutButton} />
      </div>
      <nav aria-label="Main">
        <ul>
          ${Object.entries(SCREENS).map(([key, [title]]) => html`<li>
            <a href=${`#/${key}`} aria-current=${key === route ? 'page' : undefined}>
              ${title}${key === 'notifications' && unread > 0
                ? html`<span class="badge" data-testid="unread-badge" aria-label=${label}>${unread}</span>` : ''}
            </a></li>`)}
        </ul>
      </nav>
    </header>
    <main id="main">
      <${Screen} version=${version} onUnread=${setUnread} />
    </main>
    <div aria-live="polite" role="status">${toast && html`<div class="toast" data-testid="toast">${toast}</div>`}</div>`;
}

// Until the account has a verified e-mail or phone: the verify screen (and the sessions one).
function Unverified({ route, refused, onVerified }) {
  const Screen = UNVERIFIED[route];
  useEffect(() => { if (!Screen) go('verify'); }, [Screen]);
  return html`
    <header><div class="bar"><span class="brand">E-wallet</span><${SignOutButton} /></div></header>
    <main id="main">${Screen && html`<${Screen} refused=${refused} onVerified=${onVerified} version=${0} />`}</main>`;
}

function App() {
  const [route, setRoute] = useState(currentRoute());
  const [authed, setAuthed] = useState(signedIn());
  // For the signed-in account: null while /me loads, then whether it has a verified contact.
  const [verified, setVerified] = useState(null);
  const [refused, setRefused] = useState(false); // a write met 403 verification_required
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    const off = onAuthChange((yes) => { setAuthed(yes); if (!yes && !PUBLIC[currentRoute()]) go('signin'); });
    const offRefusal = onAccountRefusal(() => { setVerified(false); setRefused(true); });
    return () => { window.removeEventListener('hashchange', onHash); off(); offRefusal(); };
  }, []);
  useEffect(() => {
    setVerified(null);
    setRefused(false);
    if (!authed) return undefined;
    let live = true;
    // Verify first: an account that has proven nothing is taken to the verify screen. If /me
    // cannot be read, the shell opens; the first refused write brings the screen anyway.
    api('GET', '/me').then((me) => live && setVerified(Boolean(me.email_verified || me.phone_verified)))
      .catch(() => live && setVerified(true));
    return () => { live = false; };
  }, [authed]);
  if (!authed) {
    const Screen = PUBLIC[route] || SignIn;
    return html`<main id="main"><${Screen} /></main>`;
  }
  if (verified === null) return html`<main id="main"><p class="loading">Loading your wallet…</p></main>`;
  if (!verified) {
    const done = () => { setVerified(true); setRefused(false); go('home'); };
    return html`<${Unverified} route=${route} refused=${refused} onVerified=${done} />`;
  }
  if (PUBLIC[route] || route === 'verify') { go('home'); return null; }
  return html`<${Shell} route=${route} />`;
}

async function boot() {
  const root = document.getElementById('app');
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    const config = await res.json();
    configure(config);
    setExponents(config.exponents);
  } catch (err) {
    root.textContent = 'The wallet could not start: its settings did not load. Please reload.';
    return;
  }
  root.textContent = '';
  render(html`<${App} />`, root);
  // The skip link must not be taken for a route (#main): it moves focus to the content.
  document.querySelector('.skip').addEventListener('click', (event) => {
    event.preventDefault();
    const main = document.getElementById('main');
    main.setAttribute('tabindex', '-1');
    main.focus();
  });
}

boot();
