// The cart: the one thing the storefront keeps in localStorage, so that it
// survives reloads. Each line remembers the product's name and price for
// display; the order itself is priced by the server.

const KEY = 'bazaar.cart.v1';
const MAX_QUANTITY = 1000; // the orders API's limit per line
const listeners = new Set();
let lines = load();

function load() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(data) ? data.filter(valid) : [];
  } catch {
    return []; // storage disabled or garbled: start empty
  }
}

function valid(l) {
  return l && typeof l.id === 'string' && typeof l.name === 'string' &&
    Number.isInteger(l.quantity) && l.quantity >= 1 && l.quantity <= MAX_QUANTITY &&
    Number.isInteger(l.price_cents) && typeof l.currency === 'string';
}

function save() {
  try {
    localStorage.setItem(KEY, JSON.stringify(lines));
  } catch {
    // storage full or disabled: the cart still works for this page view
  }
  for (const fn of listeners) fn();
}

// Another tab changed the cart.
window.addEventListener('storage', (e) => {
  if (e.key === KEY) {
    lines = load();
    for (const fn of listeners) fn();
  }
});

/** onCartChange calls fn after every change of the cart. */
export function onCartChange(fn) {
  listeners.add(fn);
}

/** items returns a copy of the lines: [{id, name, price_cents, currency, quantity}]. */
export function items() {
  return lines.map((l) => ({ ...l }));
}

/** count is the number of pieces in the cart. */
export function count() {
  return lines.reduce((n, l) => n + l.quantity, 0);
}

/** quantityOf is how many pieces of a product the cart holds. */
export function quantityOf(id) {
  return lines.find((l) => l.id === id)?.quantity ?? 0;
}

/**
 * add puts quantity pieces of a product into the cart, never more than its
 * stock; it returns how many were actually added.
 */
export function add(product, quantity = 1) {
  const have = quantityOf(product.id);
  const want = Math.min(have + quantity, product.stock, MAX_QUANTITY);
  if (want <= have) return 0;
  setLine(product, want);
  return want - have;
}

function setLine(product, quantity) {
  const line = { id: product.id, name: product.name, price_cents: product.price_cents, currency: product.currency, quantity };
  const i = lines.findIndex((l) => l.id === product.id);
  if (i >= 0) lines[i] = line;
  else lines.push(line);
  save();
}

/** update refreshes a line's name and price and sets its quantity (1 to 1000). */
export function update(product, quantity) {
  setLine(product, Math.max(1, Math.min(quantity, MAX_QUANTITY)));
}

/** remove takes a product out of the cart. */
export function remove(id) {
  lines = lines.filter((l) => l.id !== id);
  save();
}

/** clear empties the cart. */
export function clear() {
  lines = [];
  save();
}
