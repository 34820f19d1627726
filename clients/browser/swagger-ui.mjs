// Swagger UI as a person meets it: load /docs in headless Chromium, see the operations in
// the storefront's tag order, authorize with a Bearer token, "Try it out" on getCurrentUser
// (200), then, with an item in the cart, on createOrder with the example it shows (201).
// Usage: BASE_URL=http://127.0.0.1:8000 TOKEN=<access token> node swagger-ui.mjs [screenshot.png]
import { chromium } from "playwright-core";

const base = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const token = process.env.TOKEN;
const screenshot = process.argv[2];
if (!token) {
  console.error("TOKEN is required");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${base}/docs`);

  // The operations of docs/API.md are listed, grouped by tag, storefront tags first.
  await page.waitForSelector("#operations-auth-getCurrentUser");
  const operations = await page.locator(".opblock").count();
  if (operations < 40) throw new Error(`expected the API's operations, found ${operations}`);
  const tags = await page.locator(".opblock-tag").evaluateAll((els) => els.map((e) => e.getAttribute("data-tag")));
  const expected = ["auth", "catalog", "cart", "orders", "admin", "ops"];
  if (JSON.stringify(tags) !== JSON.stringify(expected)) throw new Error(`tag order ${tags}`);

  // Authorize with the Bearer token.
  await page.click("button.authorize");
  await page.fill(".modal-ux input[type=text]", token);
  await page.click(".modal-ux button.authorize");
  await page.click(".modal-ux button.btn-done");

  // Try it out on getCurrentUser.
  const op = page.locator("#operations-auth-getCurrentUser");
  await op.locator(".opblock-summary").click();
  await op.locator("button.try-out__btn").click();
  await op.locator("button.execute").click();
  const status = (await op.locator(".live-responses-table tr.response .response-col_status").first().innerText()).trim();
  const body = await op.locator(".live-responses-table .microlight").first().innerText();
  if (status !== "200") throw new Error(`getCurrentUser answered ${status}: ${body}`);
  if (!body.includes("\"email\"")) throw new Error(`unexpected body: ${body}`);

  // Put something in the cart (as the storefront would), then place the order with the
  // example body Swagger UI shows, unchanged.
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const listing = await (await fetch(`${base}/api/v1/products?in_stock=true&page_size=1`)).json();
  const product = await (await fetch(`${base}/api/v1/products/${listing.items[0].slug}`)).json();
  const variant = product.variants.find((v) => v.in_stock);
  const added = await fetch(`${base}/api/v1/cart/items`, {
    method: "POST",
    headers,
    body: JSON.stringify({ variant_id: variant.id, quantity: 1 }),
  });
  if (added.status !== 201) throw new Error(`addCartItem answered ${added.status}`);
  const order = page.locator("#operations-orders-createOrder");
  await order.locator(".opblock-summary").click();
  await order.locator("button.try-out__btn").click();
  const shown = await order.locator("textarea.body-param__text").inputValue();
  if (!shown.includes('"country": "GB"')) throw new Error(`unexpected example: ${shown}`);
  await order.locator("button.execute").click();
  const placed = (await order.locator(".live-responses-table tr.response .response-col_status").first().innerText()).trim();
  const orderBody = await order.locator(".live-responses-table .microlight").first().innerText();
  if (placed !== "201") throw new Error(`createOrder answered ${placed}: ${orderBody}`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  console.log(
    `Swagger UI: ${operations} operations in tag order ${tags.join(", ")}; authorized; ` +
      "getCurrentUser answered 200; createOrder with the shown example answered 201",
  );
} catch (e) {
  failed = true;
  console.error(`Swagger UI check failed: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
