// Google sign-in with Auth.js (NextAuth v5) in a Next.js storefront: Auth.js runs Google's
// flow and hands over an id_token; the `jwt` callback trades it for a SWIFT session
// (`POST /api/v1/auth/google`, which needs only GOOGLE_CLIENT_ID on the backend, plus the
// frontend's own client id in GOOGLE_EXTRA_AUDIENCES when it differs) and keeps that
// session fresh. Wire it in `auth.ts`:
//
//   import NextAuth from "next-auth";
//   import Google from "next-auth/providers/google";
//   import { jwt, session } from "@swift/client/examples/authjs";
//   export const { handlers, auth } = NextAuth({ providers: [Google], callbacks: { jwt, session } });
//
// The Next.js server then calls SWIFT on the shopper's behalf: list its address in the
// backend's TRUSTED_PROXIES and forward the shopper's address in X-Forwarded-For, or every
// shopper shares the server's rate limits (README, "Behind a Next.js server").
//
// The types below are the parts of Auth.js's callback arguments this uses, so the example
// type-checks without next-auth installed.
import createClient from "openapi-fetch";
import type { paths } from "../src/schema.js";
import { needsSecondFactor, type TokenPair } from "../src/client.js";

const api = createClient<paths>({ baseUrl: process.env.SWIFT_API_URL ?? "http://127.0.0.1:8000" });

/** What Auth.js keeps in its own (encrypted) session cookie for us. */
export interface SwiftToken {
  swiftAccess?: string;
  swiftRefresh?: string;
  swiftAccessExpiresAt?: number;
  /** Set when the account has two-factor sign-in: show a code form, then call `secondFactor`. */
  swiftChallenge?: string;
  error?: "RefreshFailed" | "SecondFactorRequired";
  [key: string]: unknown;
}

/** The account Auth.js passes on sign-in (Google provider: `id_token` is set). */
export interface ProviderAccount {
  provider: string;
  id_token?: string;
}

function remember(token: SwiftToken, pair: TokenPair): SwiftToken {
  return {
    ...token,
    swiftAccess: pair.access,
    swiftRefresh: pair.refresh,
    swiftAccessExpiresAt: Date.parse(pair.access_expires_at),
    error: undefined,
  };
}

/** Auth.js `jwt` callback: sign in to SWIFT with Google's id_token, then refresh early. */
export async function jwt({ token, account }: { token: SwiftToken; account?: ProviderAccount | null }) {
  if (account?.provider === "google" && account.id_token) {
    const { data } = await api.POST("/api/v1/auth/google", { body: { id_token: account.id_token } });
    if (!data) return { ...token, error: "RefreshFailed" as const };
    if (needsSecondFactor(data)) {
      return { ...token, swiftChallenge: data.challenge, error: "SecondFactorRequired" as const };
    }
    return remember(token, data);
  }
  // A minute of slack: refresh before the access token expires, not after.
  if (token.swiftAccessExpiresAt && Date.now() < token.swiftAccessExpiresAt - 60_000) return token;
  if (!token.swiftRefresh) return token;
  const { data } = await api.POST("/api/v1/auth/token/refresh", { body: { refresh: token.swiftRefresh } });
  return data ? remember(token, data) : { ...token, error: "RefreshFailed" as const };
}

/** Auth.js `session` callback: expose the access token to server components only. */
export async function session({ session, token }: { session: Record<string, unknown>; token: SwiftToken }) {
  return { ...session, swiftAccess: token.swiftAccess, error: token.error };
}

/**
 * The second step for an account with two-factor sign-in: the code the shopper typed (from
 * the authenticator app, or a recovery code), sent from a server action, then stored through
 * Auth.js's `unstable_update` (or the `jwt` callback's `trigger: "update"`).
 */
export async function secondFactor(token: SwiftToken, code: string): Promise<SwiftToken> {
  if (!token.swiftChallenge) return token;
  const { data } = await api.POST("/api/v1/auth/second-factor", {
    body: { challenge: token.swiftChallenge, code },
  });
  return data ? { ...remember(token, data), swiftChallenge: undefined } : token;
}
