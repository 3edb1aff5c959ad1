// A small fetch-based client of the cartd native API, typed by cartd.d.ts (generated from
// api/openapi.json by `npm run generate`). Run it against `go run ./cmd/cartd --demo`:
//
//   npm ci && CARTD_URL=http://127.0.0.1:8080 CARTD_KEY=sk_... npm run example
import type { components } from "./cartd.js";

type Cart = components["schemas"]["Cart"];
type CartCreate = components["schemas"]["CartCreate"];
type ItemAdd = components["schemas"]["ItemAdd"];
type Problem = components["schemas"]["Problem"];

/** CartdError is a problem+json answer; `code` is one of the codes of docs/errors.md. */
export class CartdError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(`${status} ${problem.code}: ${problem.detail ?? problem.title}`);
  }
  get code(): Problem["code"] { return this.problem.code; }
}

export class Cartd {
  constructor(private readonly baseURL: string, private readonly key: string) {}

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await fetch(this.baseURL + path, {
      method,
      headers: {
        Authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) throw new CartdError(res.status, data as Problem);
    return data as T;
  }

  createCart(body: CartCreate): Promise<Cart> {
    return this.call<Cart>("POST", "/v1/carts", body, { "Idempotency-Key": crypto.randomUUID() });
  }

  getCart(id: string): Promise<Cart> {
    return this.call<Cart>("GET", `/v1/carts/${encodeURIComponent(id)}`);
  }

  addItem(cartID: string, body: ItemAdd): Promise<Cart> {
    return this.call<Cart>("POST", `/v1/carts/${encodeURIComponent(cartID)}/items`, body, { "Idempotency-Key": crypto.randomUUID() });
  }
}

async function main(): Promise<void> {
  const cartd = new Cartd(process.env.CARTD_URL ?? "http://127.0.0.1:8080", process.env.CARTD_KEY ?? "");
  const cart = await cartd.createCart({ currency: "USD" });
  const after = await cartd.addItem(cart.id, { sku: "CABLE-USBC-1M", quantity: 10 });
  console.log(`${after.id}: ${after.item_count} units, total ${after.total} ${after.currency}`);
  try {
    await cartd.addItem(cart.id, { sku: "SNKR-LTD-42", quantity: 500 });
  } catch (e) {
    if (e instanceof CartdError && e.code === "insufficient_stock") {
      console.log(`only ${e.problem.available} SNKR-LTD-42 available`);
    } else {
      throw e;
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
