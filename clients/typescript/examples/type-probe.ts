// Compile-time probes of the generated types (issue #11). `tsc` runs over this file in CI;
// each `@ts-expect-error` fails the build if the line it guards ever type-checks, so the
// document keeps stating the server's real constraints.
import type { Schemas } from "../src/client.js";
import { swiftClient, Session, needsSecondFactor } from "../src/client.js";
import type { paths } from "../src/schema.js";

// Problem codes are a closed set: a misspelt code does not compile.
const known: Schemas["ProblemCode"] = "insufficient_stock";
// @ts-expect-error "insufficent_stock" is not a ProblemCode
const misspelt: Schemas["ProblemCode"] = "insufficent_stock";

// PATCH bodies: null removes the category (it means something), absent leaves it alone.
const removeCategory: Schemas["ProductUpdate"] = { category_id: null };
const keepCategory: Schemas["ProductUpdate"] = { name: "Walnut mug" };
const moveToTop: Schemas["CategoryUpdate"] = { parent_id: null };

// Countries are ISO 3166-1 codes, not any two letters.
const uk: Schemas["Address"]["country"] = "GB";
// @ts-expect-error "XX" is not a country
const nowhere: Schemas["Address"]["country"] = "XX";

const api = swiftClient("http://127.0.0.1:8000", new Session());
export async function probes() {
  await api.GET("/api/v1/products", { params: { query: { page_size: 100, ordering: "-price" } } });
  // @ts-expect-error page_size is at most 100
  await api.GET("/api/v1/products", { params: { query: { page_size: 101 } } });
  // @ts-expect-error "cheapest" is not an ordering
  await api.GET("/api/v1/products", { params: { query: { ordering: "cheapest" } } });
  // scripts/generate.mjs leaves out a path's `get?: never` placeholders: a method the path
  // lacks is still refused, and so are query parameters an operation does not take.
  // @ts-expect-error sign-in is POST only
  await api.GET("/api/v1/auth/login");
  const credentials = { email: "ada@example.com", password: "correct horse battery" };
  // @ts-expect-error sign-in takes no query parameters
  await api.POST("/api/v1/auth/login", { params: { query: { next: "/" } }, body: credentials });
}

// Order statuses are exhaustive: adding one to the API breaks this switch until handled.
export function label(status: Schemas["OrderStatus"]): string {
  switch (status) {
    case "pending":
      return "Awaiting payment";
    case "paid":
      return "Paid";
    case "shipped":
      return "On its way";
    case "delivered":
      return "Delivered";
    case "cancelled":
      return "Cancelled";
    case "refunded":
      return "Refunded";
    default: {
      const unhandled: never = status;
      return unhandled;
    }
  }
}

// Who changed an order is a closed set too.
const by: Schemas["OrderHistoryEntry"]["by"] = "system";

// Currencies are ISO 4217 codes, as the server writes them.
const euro: Schemas["CurrencyCode"] = "EUR";
// @ts-expect-error lower case is not a currency code
const lowerEuro: Schemas["CurrencyCode"] = "eur";

// A sign-in may answer a two-factor challenge instead of tokens: a client must look first.
type LoginAnswers = paths["/api/v1/auth/login"]["post"]["responses"];
declare const signIn: LoginAnswers[200 | 202]["content"]["application/json"];
// @ts-expect-error `user` is only on the token pair, not on the challenge
const unchecked = signIn.user;
const checked = needsSecondFactor(signIn) ? signIn.challenge : signIn.user.email;

export const values = [known, misspelt, removeCategory, keepCategory, moveToTop, uk, nowhere, by, euro, lowerEuro, unchecked, checked];
