// The account views: log in, register, and the shopper's orders.

import { h, replace, money, date, field, alertBox, busy, heading, hidden, checkForm, showProblem, needLogin, confirmAction } from './dom.js';
import { login as logIn, register as signUp, currentUser, sessionReady, orders } from './api.js';

/** safeNext keeps a post-login destination inside the storefront. */
function safeNext(query) {
  const next = query.get('next') ?? '/';
  return /^\/[\w\-/]*$/.test(next) ? next : '/';
}

function signedIn(user, next) {
  return {
    title: 'Account',
    content: h('section', { class: 'narrow' }, heading('You are logged in'),
      h('p', {}, `You are logged in as ${user.name} (${user.email}). `, h('a', { href: `#${next}` }, 'Continue'), '.')),
  };
}

/** login is the log-in form. */
export async function login({ query, navigate }) {
  await sessionReady;
  const next = safeNext(query);
  if (currentUser()) return signedIn(currentUser(), next);
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: send },
    box,
    field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 }),
    field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 128 }),
    submit);
  async function send(e) {
    e.preventDefault();
    if (!checkForm(form, box)) return;
    const done = busy(submit, 'Logging in…');
    try {
      await logIn(form.elements.email.value.trim(), form.elements.password.value);
      navigate(`#${next}`, { flash: `Welcome back, ${currentUser().name}.` });
    } catch (err) {
      done();
      showProblem(form, box, err, { labels: { email: 'Email', password: 'Password' } });
    }
  }
  return {
    title: 'Log in',
    content: h('section', { class: 'narrow' }, heading('Log in'), form,
      h('p', {}, 'New here? ', h('a', { href: `#/register?next=${encodeURIComponent(next)}` }, 'Create an account'), '.')),
  };
}

/** register is the sign-up form; a new account is logged in at once. */
export async function register({ query, navigate }) {
  await sessionReady;
  const next = safeNext(query);
  if (currentUser()) return signedIn(currentUser(), next);
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create account');
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: send },
    box,
    field({ label: 'Name', name: 'name', autocomplete: 'name', required: true, maxlength: 100 }),
    field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 }),
    field({
      label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password',
      required: true, minlength: 8, maxlength: 128, hint: '8 to 128 characters.',
    }),
    submit);
  async function send(e) {
    e.preventDefault();
    if (!checkForm(form, box)) return;
    const done = busy(submit, 'Creating your account…');
    const { name, email, password } = form.elements;
    try {
      await signUp(name.value.trim(), email.value.trim(), password.value);
      navigate(`#${next}`, { flash: `Welcome to Bazaar, ${currentUser().name}!` });
    } catch (err) {
      done();
      showProblem(form, box, err, { labels: { name: 'Name', email: 'Email', password: 'Password' } });
      if (err.status === 409) {
        form.elements.email.setAttribute('aria-invalid', 'true');
        form.elements.email.focus();
      }
    }
  }
  return {
    title: 'Create an account',
    content: h('section', { class: 'narrow' }, heading('Create an account'), form,
      h('p', {}, 'Already have an account? ', h('a', { href: `#/login?next=${encodeURIComponent(next)}` }, 'Log in'), '.')),
  };
}

const STATUS = {
  pending: 'Processing',
  confirmed: 'Confirmed',
  rejected: 'Not placed',
  failed: 'Failed',
  cancelling: 'Cancelling',
  cancelled: 'Cancelled',
};

/** orderNumber is a short reference for people: the random tail of the id. */
function orderNumber(o) {
  return o.id.replace(/-/g, '').slice(-8).toUpperCase();
}

function statusBadge(o) {
  return h('span', { class: `status status-${o.status}` }, STATUS[o.status] ?? o.status);
}

function cancelButton(o, onCancelled, announce) {
  if (o.status !== 'confirmed') return null;
  return confirmAction({
    label: 'Cancel order',
    question: 'Cancel this order?',
    yes: 'Yes, cancel it',
    no: 'Keep it',
    working: 'Cancelling…',
    action: async () => {
      onCancelled(await orders.cancel(o.id));
      announce(`Order ${orderNumber(o)} is cancelled.`);
    },
  });
}

function orderCard(o, announce) {
  const el = h('li', { class: 'order', 'data-order-id': o.id },
    h('div', { class: 'order-head' },
      h('h2', {}, h('a', { href: `#/orders/${encodeURIComponent(o.id)}` }, `Order ${orderNumber(o)}`)),
      statusBadge(o)),
    h('p', { class: 'meta' }, `Placed ${date(o.created_at)}`),
    h('ul', { class: 'order-items' }, o.items.map((i) => h('li', {}, `${i.quantity} × ${i.name}`))),
    h('p', { class: 'total' }, 'Total: ', h('strong', {}, money(o.total_cents, o.currency))),
    cancelButton(o, (updated) => {
      const next = orderCard(updated, announce);
      el.replaceWith(next);
      next.querySelector('h2 a').focus();
    }, announce));
  return el;
}

/** orderList is "My orders", newest first, with older pages on demand. */
export async function orderList({ signal, announce }) {
  await sessionReady;
  if (!currentUser()) return needLogin('/orders', 'Log in to see your orders.');
  const page = await orders.list('', signal);
  if (!page.items.length) {
    return {
      title: 'My orders',
      content: h('section', { class: 'narrow' }, heading('My orders'),
        h('p', {}, 'You have not ordered anything yet. ', h('a', { href: '#/' }, 'Browse the products'), '.')),
    };
  }
  const list = h('ul', { class: 'orders', id: 'orders' }, page.items.map((o) => orderCard(o, announce)));
  const more = h('p', {});
  let cursor = page.next_cursor;
  const moreButton = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      const done = busy(moreButton, 'Loading…');
      try {
        const next = await orders.list(cursor);
        const cards = next.items.map((o) => orderCard(o, announce));
        list.append(...cards);
        cursor = next.next_cursor;
        announce(`${cards.length} more orders shown.`);
        cards[0]?.querySelector('h2 a').focus();
      } catch (err) {
        announce(err.message);
      }
      done();
      if (!cursor) moreButton.remove();
    },
  }, 'Show older orders');
  if (cursor) replace(more, moreButton);
  return { title: 'My orders', content: h('section', { class: 'narrow' }, heading('My orders'), list, more) };
}

/** order is one order's page. */
export async function order({ params: [id], signal, announce }) {
  await sessionReady;
  if (!currentUser()) return needLogin(`/orders/${id}`, 'Log in to see this order.');
  const o = await orders.get(id, signal);
  const section = h('section', { class: 'narrow' });
  const draw = (o, focus) => {
    replace(section,
      h('p', { class: 'back' }, h('a', { href: '#/orders' }, '← All my orders')),
      h('div', { class: 'order-head' }, heading(`Order ${orderNumber(o)}`), statusBadge(o)),
      h('p', { class: 'meta' }, `Placed ${date(o.created_at)}`),
      h('table', { class: 'items' },
        h('caption', { class: 'visually-hidden' }, 'Items of this order'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Product'), h('th', { scope: 'col', class: 'num' }, 'Quantity'),
          h('th', { scope: 'col', class: 'num' }, 'Price'), h('th', { scope: 'col', class: 'num' }, 'Subtotal'))),
        h('tbody', {}, o.items.map((i) => h('tr', {},
          h('td', {}, i.name, hidden(' '), h('span', { class: 'sku' }, i.sku)),
          h('td', { class: 'num' }, String(i.quantity)),
          h('td', { class: 'num' }, money(i.unit_price_cents, o.currency)),
          h('td', { class: 'num' }, money(i.unit_price_cents * i.quantity, o.currency))))),
        h('tfoot', {}, h('tr', {},
          h('th', { scope: 'row', colspan: 3 }, 'Total'),
          h('td', { class: 'num' }, h('strong', {}, money(o.total_cents, o.currency)))))),
      cancelButton(o, (updated) => draw(updated, true), announce));
    if (focus) section.querySelector('h1').focus();
  };
  draw(o, false);
  return { title: `Order ${orderNumber(o)}`, content: section };
}
