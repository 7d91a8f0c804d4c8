// The web wallet: boot (read config.json), the hash router and the signed-in shell with the
// navigation, the unread badge and live notices.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, configure, onAccountRefusal, onAuthChange, restore, signedIn, signOut } from './api.js';
import { forgetMe, lastUser, rememberMe } from './offline/wallet.js';
import { Offline, useAutoRedeem } from './screens/offline.js';
import { OfflineHome } from './screens/home.js';
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
  offline: ['Offline', Offline],
};
// Screens reached from another screen, not from the navigation.
const LINKED = { sessions: ['Your sessions', Sessions], devices: ['Offline devices', Devices] };
// What the app shows when it opens with no network and no session: what it cached.
const OFFLINE_SCREENS = { home: ['Home', OfflineHome], offline: ['Offline', Offline] };
const PUBLIC = { signin: SignIn, signup: SignUp, forgot: Forgot };
// What an account without a verified contact may open: the API lets it read, verify and manage
// its sessions, nothing else.
const UNVERIFIED = { verify: Verify, sessions: Sessions };

function SignOutButton() {
  return html`<button class="link" type="button" onClick=${() => signOut().then(() => forgetMe().catch(() => {})).then(() => go('signin'))}>Sign out</button>`;
}


function Shell({ route, me }) {
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
  useAutoRedeem(me && me.user_id);
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
      <${Screen} version=${version} onUnread=${setUnread} me=${me} />
    </main>
    <div aria-live="polite" role="status">${toast && html`<div class="toast" data-testid="toast">${toast}</div>`}</div>`;
}

// Opened with no network and no session: the wallets as last seen and the offline screens, for
// the person last signed in here. Back online, the session is restored (its refresh cookie).
function OfflineShell({ route, me }) {
  const [, Screen] = OFFLINE_SCREENS[route] || OFFLINE_SCREENS.home;
  return html`
    <header>
      <div class="bar">
        <a class="brand" href="#/home">E-wallet</a>
        <span class="status" data-testid="live-state">Offline</span>
      </div>
      <nav aria-label="Main">
        <ul>
          ${Object.entries(OFFLINE_SCREENS).map(([key, [title]]) => html`<li>
            <a href=${`#/${key}`} aria-current=${key === route ? 'page' : undefined}>${title}</a></li>`)}
        </ul>
      </nav>
    </header>
    <main id="main"><${Screen} me=${me} online=${false} version=${0} /></main>`;
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
  // Opening: 'restoring' while the refresh cookie is tried, then 'done'; offline with nobody
  // signed in, `cached` is the person last seen here (the offline shell opens for them).
  const [opening, setOpening] = useState('restoring');
  const [cached, setCached] = useState(null);
  const [me, setMe] = useState(null);
  useEffect(() => {
    let live = true;
    const attempt = () => restore().then(() => { if (live) { setCached(null); setOpening('done'); } })
      .catch(async () => {
        // No network: the app opens on what it cached, and tries again when the network is back.
        const user = await lastUser().catch(() => null);
        if (live) { setCached(user || null); setOpening('done'); }
      });
    attempt();
    const again = () => { if (!signedIn()) attempt(); };
    window.addEventListener('online', again);
    const timer = setInterval(() => { if (!signedIn() && navigator.onLine) attempt(); }, 10000);
    return () => { live = false; window.removeEventListener('online', again); clearInterval(timer); };
  }, []);
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
    api('GET', '/me').then((found) => {
      if (!live) return;
      setMe(found);
      rememberMe(found).catch(() => {});
      setVerified(Boolean(found.email_verified || found.phone_verified));
    }).catch(async () => {
      const user = await lastUser().catch(() => null);
      if (live) { setMe(user); setVerified(true); }
    });
    return () => { live = false; };
  }, [authed]);
  if (!authed && opening === 'restoring') return html`<main id="main"><p class="loading">Loading your wallet…</p></main>`;
  if (!authed && cached && !PUBLIC[route]) return html`<${OfflineShell} route=${route} me=${cached} />`;
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
  return html`<${Shell} route=${route} me=${me} />`;
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

// The service worker keeps the app's files, so that it opens with no network (sw.js). A new
// version takes over at once; what the person holds lives in IndexedDB, which it never touches.
function installable() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('sw.js').catch(() => { /* the app still works online */ });
}

installable();
boot();
