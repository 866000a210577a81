// The storefront's entry point: hash routing, the site header, and the
// shared status messages. Views are async functions returning
// {title, content, mounted?}; the admin views load only when visited.

import { h, replace, heading, hidden, needLogin } from './dom.js';
import { currentUser, onSessionChange, sessionReady, logout, ApiError } from './api.js';
import * as cart from './cart.js';
import * as shop from './shop.js';
import * as account from './account.js';

const admin = (name) => (ctx) => import('./admin.js').then((m) => m[name](ctx));

const routes = [
  [/^\/$/, shop.list],
  [/^\/product\/([^/]+)$/, shop.product],
  [/^\/cart$/, shop.cartPage],
  [/^\/login$/, account.login],
  [/^\/register$/, account.register],
  [/^\/orders$/, account.orderList],
  [/^\/orders\/([^/]+)$/, account.order],
  [/^\/admin$/, admin('products')],
  [/^\/admin\/new$/, admin('edit')],
  [/^\/admin\/product\/([^/]+)$/, admin('edit')],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const toast = document.getElementById('status');

let navigation = null; // AbortController of the view being rendered
let pending = {}; // options of the navigate call that led to the next render
let firstRender = true;
let sessionKnown = false; // until the session is restored, the header shows no account links

/**
 * navigate shows the view for hash. flash is a message for the next view;
 * focus names an element id to focus afterwards, or 'keep' to leave the
 * focus where it is (for a search form that redraws its own results).
 */
function navigate(hash, { flash, focus } = {}) {
  pending = { flash, focus, keep: focus === 'keep' ? document.activeElement?.id : undefined };
  busy(true); // at once: the hashchange event that renders comes later
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** busy marks the main region as being updated (a progress bar shows). */
function busy(on) {
  document.body.classList.toggle('loading', on);
  main.setAttribute('aria-busy', String(on));
}

let toastTimer;

/**
 * announce shows a short message and reads it out to screen readers; an
 * empty one hides the last. A quiet message is for screen readers only.
 */
function announce(message, { quiet = false } = {}) {
  clearTimeout(toastTimer);
  toast.textContent = '';
  toast.classList.toggle('visually-hidden', quiet);
  if (!message) return;
  // A fresh text node after a tick makes screen readers repeat a message.
  setTimeout(() => {
    toast.textContent = message;
    toastTimer = setTimeout(() => {
      toast.textContent = '';
    }, 5000);
  }, 50);
}

function parseHash() {
  const raw = location.hash.slice(1);
  const [path, search = ''] = raw.startsWith('/') ? raw.split(/\?(.*)/s) : ['/'];
  return { path, query: new URLSearchParams(search) };
}

async function render() {
  navigation?.abort();
  const ctl = new AbortController();
  navigation = ctl;
  const { flash, focus, keep } = pending;
  pending = {};
  const { path, query } = parseHash();
  const match = routes.map(([re, view]) => [re.exec(path), view]).find(([m]) => m);
  const params = match?.[0].slice(1).map(decode);
  busy(true);
  let result;
  try {
    result = match && !params.includes(null)
      ? await match[1]({ params, query, signal: ctl.signal, navigate, announce })
      : notFound();
  } catch (err) {
    if (err.name === 'AbortError' || ctl.signal.aborted) return;
    result = failed(err);
  }
  if (ctl.signal.aborted) return;
  announce(''); // a message about the last page does not belong on this one
  document.title = result.title ? `${result.title} · Bazaar` : 'Bazaar';
  // A flash message takes the focus, so that screen readers read it first.
  const flashNote = flash && h('p', { class: 'flash', tabindex: '-1' }, flash);
  replace(main, flashNote, result.content);
  busy(false);
  drawNav(path);
  if (flashNote) {
    window.scrollTo(0, 0);
    flashNote.focus();
  } else if (keep && document.getElementById(keep)) {
    document.getElementById(keep).focus();
  } else if (focus && document.getElementById(focus)) {
    document.getElementById(focus).focus();
  } else if (!firstRender) {
    window.scrollTo(0, 0);
    main.querySelector('h1')?.focus();
  }
  firstRender = false;
  result.mounted?.();
}

function decode(s) {
  try {
    return s === undefined ? s : decodeURIComponent(s);
  } catch {
    return null; // malformed escapes name nothing
  }
}

function notFound() {
  return {
    title: 'Not found',
    content: h('section', { class: 'narrow' }, heading('Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/' }, 'Browse the products'), '.')),
  };
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) {
    return needLogin(parseHash().path, 'Your session has ended. Please log in again.');
  }
  if (err instanceof ApiError && err.status === 404) {
    return {
      title: 'Not found',
      content: h('section', { class: 'narrow' }, heading('Not found'),
        h('p', {}, err.message, ' ', h('a', { href: '#/' }, 'Browse the products'), '.')),
    };
  }
  return {
    title: 'Something went wrong',
    content: h('section', { class: 'narrow' }, heading('Something went wrong'),
      h('p', { class: 'alert', role: 'alert' }, err.message),
      h('p', {}, h('button', { type: 'button', onclick: render }, 'Try again'))),
  };
}

function drawNav(path = parseHash().path) {
  const user = currentUser();
  const link = (href, ...text) => {
    const here = href.slice(1) === path || (href === '#/admin' && path.startsWith('/admin'));
    return h('li', {}, h('a', { href, 'aria-current': here ? 'page' : null }, ...text));
  };
  const n = cart.count();
  // Redrawing must not lose the keyboard focus of someone in the header.
  const focused = nav.contains(document.activeElement) ? document.activeElement : null;
  const same = focused && (focused.id ? `#${CSS.escape(focused.id)}` : `[href="${CSS.escape(focused.getAttribute('href') ?? '')}"]`);
  replace(nav, h('ul', {},
    link('#/', 'Products'),
    link('#/cart', 'Cart ', h('span', { class: 'badge', id: 'cart-count' }, String(n)), hidden(n === 1 ? ' item' : ' items')),
    user && link('#/orders', 'My orders'),
    user?.role === 'admin' && link('#/admin', 'Admin'),
    !sessionKnown ? null : user
      ? h('li', { class: 'account' },
        h('span', { class: 'who' }, hidden('Signed in as '), user.name),
        h('button', { type: 'button', class: 'link', id: 'logout', onclick: signOut }, 'Log out'))
      : [link('#/login', 'Log in'), link('#/register', 'Register')]));
  if (same) nav.querySelector(same)?.focus();
}

async function signOut(e) {
  e.currentTarget.disabled = true;
  try {
    await logout();
  } finally {
    navigate('#/', { flash: 'You are logged out.' });
  }
}

onSessionChange(() => drawNav());
sessionReady.then(() => {
  sessionKnown = true;
  drawNav();
});
cart.onCartChange(() => drawNav());
window.addEventListener('hashchange', render);
// The skip link must not change the hash, which is the router's.
document.querySelector('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
drawNav();
render();
