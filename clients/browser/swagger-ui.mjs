// Swagger UI as a person meets it: load /docs in headless Chromium, see the operations,
// authorize with a Bearer token, and "Try it out" on getCurrentUser, expecting a 200.
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

  // The operations of API.md are listed, grouped by tag.
  await page.waitForSelector("#operations-auth-getCurrentUser");
  const operations = await page.locator(".opblock").count();
  if (operations < 40) throw new Error(`expected the API's operations, found ${operations}`);

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
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`Swagger UI: ${operations} operations listed, authorized, getCurrentUser answered 200`);
} catch (e) {
  failed = true;
  console.error(`Swagger UI check failed: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
