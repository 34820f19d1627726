// A storefront's journey through the API with the typed client: browse and search as a
// visitor, add to a guest cart, register (the guest cart merges into the account's), sign in
// again, check out, pay (Stripe), list orders, refresh, log out; and a guest who checks out
// without an account and reads the order by its link. Every step is checked; any surprise
// exits non-zero. Run against a live server with some products and Stripe configured (the
// local fake Stripe, `cargo run -p fake-stripe`, stands in for api.stripe.com):
//   BASE_URL=http://127.0.0.1:8000 STRIPE_API_BASE=http://127.0.0.1:12111 npm run build && npm run example
import { createHmac, randomUUID } from "node:crypto";
import { Session, needsSecondFactor, swiftClient, type Problem } from "../src/client.js";

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const session = new Session();
const api = swiftClient(baseUrl, session);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) {
    console.error(`storefront example failed: ${message}`);
    process.exit(1);
  }
}

/** The six digits an authenticator app shows for `secret` (base32) at `unixTime` (RFC 6238). */
function appCode(secret: string, unixTime: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixTime / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return ((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, "0");
}

function problem(error: Problem | undefined, what: string): never {
  console.error(`storefront example failed at ${what}: ${JSON.stringify(error)}`);
  process.exit(1);
}

const email = `shopper-${randomUUID()}@example.com`;
const password = "plum-Orbit-cactus-42";

// Browse and search.
const categories = await api.GET("/api/v1/categories");
check(categories.data !== undefined, "listCategories");
const listing = await api.GET("/api/v1/products", {
  params: { query: { in_stock: true, ordering: "price", page_size: 5 } },
});
if (!listing.data) problem(listing.error, "listProducts");
const product = listing.data.items[0];
check(product !== undefined, "an in-stock product to buy");
check(/^\d+\.\d{2}$/.test(product.price_min ?? ""), "prices are two-decimal strings");
const word = product.name.split(" ")[1] ?? product.name;
const search = await api.GET("/api/v1/products", { params: { query: { q: word } } });
check((search.data?.total ?? 0) > 0, `search for ${word}`);
const detail = await api.GET("/api/v1/products/{id_or_slug}", {
  params: { path: { id_or_slug: product.slug } },
});
if (!detail.data) problem(detail.error, "getProduct");
check(detail.data.id === product.id, "getProduct by slug");
// A product is bought by variant: a simple product has one, others one per option value set.
const variant = detail.data.variants.find((v) => v.in_stock);
if (!variant) throw new Error("an in-stock product has an in-stock variant");
const options = variant.options.map((o) => `${o.name}: ${o.value}`).join(", ");
console.log(`buying ${variant.sku}${options ? ` (${options})` : ""} at ${variant.price}`);

// As a visitor: the first line opens a guest cart, whose token the client keeps.
const added = await api.POST("/api/v1/cart/items", { body: { variant_id: variant.id, quantity: 2 } });
if (!added.data) problem(added.error, "addCartItem");
check(added.data.item_count === 2, "cart holds two units");
check(session.cart !== undefined, "a guest cart token");

// Register: it signs in, and the guest cart joins the new account's.
{
  const { data, error } = await api.POST("/api/v1/auth/register", {
    body: { email, password, first_name: "Sam" },
  });
  if (!data) problem(error, "register");
  check(data.result === "signed_in", "registration signs in when verification is optional");
  check(data.cart?.merged === 1 && data.cart.clamped.length === 0, "the guest cart is merged");
  session.remember(data);
}
// Then sign in again, as a returning customer would.
{
  const { data, error } = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (!data) problem(error, "login");
  check(!needsSecondFactor(data), "one step without two-factor sign-in");
  session.remember(data);
  check(data.user.email === email, "login returns the user");
}
// Two-factor sign-in: enrol an authenticator app, confirm with its first code, and sign in
// in two steps; then turn it off with a recovery code.
{
  const enrolment = await api.POST("/api/v1/auth/two-factor");
  if (!enrolment.data) problem(enrolment.error, "enrolTwoFactor");
  check(enrolment.data.otpauth_uri.startsWith("otpauth://totp/"), "a URI for the QR code");
  const secret = enrolment.data.secret;
  const now = Date.now() / 1000;
  const confirmed = await api.POST("/api/v1/auth/two-factor/confirm", { body: { code: appCode(secret, now) } });
  if (!confirmed.data) problem(confirmed.error, "confirmTwoFactor");
  const recovery = confirmed.data.recovery_codes;
  check(recovery.length === 10, "ten recovery codes");
  const first = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (!first.data) problem(first.error, "login with two-factor");
  if (!needsSecondFactor(first.data)) throw new Error("login asks for the second factor");
  // Each code is good once: the next step's code (the app shows it within 30 s).
  const second = await api.POST("/api/v1/auth/second-factor", {
    body: { challenge: first.data.challenge, code: appCode(secret, now + 30) },
  });
  if (!second.data) problem(second.error, "completeSignIn");
  session.remember(second.data);
  const off = await api.POST("/api/v1/auth/two-factor/disable", { body: { password, code: recovery[0]! } });
  check(off.response.status === 204, "disableTwoFactor with a recovery code");
  const methods = await api.GET("/api/v1/auth/methods");
  check(methods.data?.length === 1 && methods.data[0]?.method === "password", "listSignInMethods");
}
const me = await api.GET("/api/v1/auth/user");
check(me.data?.first_name === "Sam", "getCurrentUser");
// An access token that no longer works (expired, say): the refresh-on-401 middleware trades
// the refresh token for a new pair and replays the request.
session.access = "expired.access.token";
const again = await api.GET("/api/v1/auth/user");
check(again.data?.email === email && session.access !== "expired.access.token", "refresh on 401");

// Cart and checkout: the merged cart holds what the visitor added.
const merged = await api.GET("/api/v1/cart");
check(merged.data?.items[0]?.product.variant_id === variant.id && merged.data.item_count === 2, "merged cart");
// The address goes in the address book; checkout ships there and confirms the total shown.
const saved = await api.POST("/api/v1/addresses", {
  body: {
    address: { full_name: "Sam Shopper", line1: "1 Market Street", city: "Springfield", postal_code: "12345", country: "US" },
  },
});
if (!saved.data) problem(saved.error, "createAddress");
check(saved.data.is_default_shipping, "the first saved address is the default");
const order = await api.POST("/api/v1/orders", {
  params: { header: { "Idempotency-Key": randomUUID() } },
  body: { shipping_address_id: saved.data.id, expected_total: merged.data.total },
});
if (!order.data) problem(order.error, "createOrder");
check(order.data.status === "pending", "a new order is pending");
check(order.data.total === merged.data.total, "the customer pays the total shown");

// Pay. The server opens the order's Stripe PaymentIntent; the browser confirms it with the
// client secret, as Stripe.js does (`stripe.confirmPayment` with the Payment Element; here
// the same call to Stripe's API, made against the local fake Stripe with a test card). The
// order becomes paid when Stripe's signed webhook reaches the server, not when the browser
// says so: a storefront's return page waits for it.
const stripeBase = process.env.STRIPE_API_BASE ?? "http://127.0.0.1:12111";
const publishableKey = process.env.STRIPE_PUBLISHABLE_KEY ?? "pk_test_fake";
const payment = await api.POST("/api/v1/orders/{id}/payment", { params: { path: { id: order.data.id } } });
if (!payment.data) problem(payment.error, "createPayment");
check(payment.data.amount === order.data.total && payment.data.currency === order.data.currency, "the payment is for the order's total");
const confirmed = await fetch(`${stripeBase}/v1/payment_intents/${payment.data.intent_id}/confirm`, {
  method: "POST",
  headers: { authorization: `Bearer ${publishableKey}`, "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ client_secret: payment.data.client_secret, payment_method: "pm_card_visa" }),
});
check(confirmed.ok, `Stripe confirms the payment (${confirmed.status})`);
let paid = await api.GET("/api/v1/orders/{id}", { params: { path: { id: order.data.id } } });
for (let waited = 0; paid.data?.payment_status !== "paid" && waited < 50; waited++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  paid = await api.GET("/api/v1/orders/{id}", { params: { path: { id: order.data.id } } });
}
check(paid.data?.status === "paid" && paid.data.payment_status === "paid", "the order is paid");
check(paid.data.history.some((h) => h.status === "paid" && h.by === "system"), "Stripe's webhook paid it");
const orders = await api.GET("/api/v1/orders");
check(orders.data?.items[0]?.id === order.data.id, "listOrders shows the order first");
const emptied = await api.GET("/api/v1/cart");
check(emptied.data?.item_count === 0, "checkout empties the cart");

// Refresh, then log out; the old access token stops working at once.
{
  const { data, error } = await api.POST("/api/v1/auth/token/refresh", { body: { refresh: session.refresh } });
  if (!data) problem(error, "refreshToken");
  session.remember(data);
}
const logout = await api.POST("/api/v1/auth/logout", { body: { refresh: session.refresh } });
check(logout.response.status === 204, "logout");
const after = await api.GET("/api/v1/auth/user");
check(after.response.status === 401 && after.error?.code === "token_invalid", "logged out");

// A guest checks out without an account, and reads the order through its link.
const guest = swiftClient(baseUrl, new Session());
const guestLine = await guest.POST("/api/v1/cart/items", { body: { variant_id: variant.id, quantity: 1 } });
if (!guestLine.data) problem(guestLine.error, "addCartItem (guest)");
const guestOrder = await guest.POST("/api/v1/orders", {
  params: { header: { "Idempotency-Key": randomUUID() } },
  body: {
    email: `guest-${randomUUID()}@example.com`,
    shipping_address: { full_name: "Gus Guest", line1: "2 Market Street", city: "Springfield", postal_code: "12345", country: "US" },
  },
});
if (!guestOrder.data) problem(guestOrder.error, "createOrder (guest)");
const orderToken = guestOrder.data.order_token;
check(orderToken !== undefined, "a guest order comes with its link's token");
const byLink = await api.GET("/api/v1/guest-orders/{token}", { params: { path: { token: orderToken } } });
check(byLink.data?.number === guestOrder.data.number, "getGuestOrder");

console.log(`storefront example passed: ${email} bought and paid ${product.name} as order ${order.data.number}; a guest as ${guestOrder.data.number}`);
