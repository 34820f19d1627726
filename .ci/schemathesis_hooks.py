"""Schemathesis hooks for .ci/e2e.sh: the data a real client would have.

- Credentials nobody can guess. Some operations do their work only with a secret: a mailed
  link's key or token, a Google id_token, the login code of the redirect flow, the caller's
  own password. .ci/credentials.py obtains real ones the way a user does; here they replace
  the placeholders of the examples and the generated strings, in every phase. A password
  changed by changePassword is the old password of the next change. (A
  non-string value is sent as generated, so the server's answer to it is still tested.)
- A cart to work on. A checkout removes the lines it orders, so after the fuzzer's first
  order every later one would meet an empty cart (400), and the line ids it learnt would be
  gone (404). Before each order, and each change of a line, a unit of the seeded variant goes
  in the customer's cart, as a shopper would put it there; a well-formed line id becomes
  that line's. Malformed ids are sent as generated.
- A key per request. A client never sends one Idempotency-Key with two different requests;
  the fuzzer would (the same generated key on every case), and meet 409
  `idempotency_conflict` after the first success. A well-formed generated key becomes a fresh
  one; a malformed one is sent as generated, so its 400 is still tested.
- An address book. Checkout gives an address inline or by id, not both; by a saved address's id, and changes to saved addresses, use
  an address saved just before (the book is kept under its 50-address limit); checkout's
  `expected_total` is the cart's total as the customer saw it.
- Shipping, tax and codes. The store ships everywhere by one seeded method (SWIFT_METHOD_ID),
  which a cart gets before checkout and setCartShipping chooses; applyDiscountCode uses the
  seeded code (SWIFT_DISCOUNT_CODE). An update or delete of a zone, method, tax rate or code
  works on one made just before; new rates get a region of their own and new codes a code of
  their own (both are unique), and a code's terms keep the rules across fields.
- A session to refresh: refreshToken presents the token its last answer gave, as a client
  does (the first comes from a sign-in of customer3's: SWIFT_REFRESH_TOKEN).
- A known shopper. The login example signs in as a seeded customer.
- New shoppers. Each registration gets an address of its own; otherwise every one after the
  first meets 409 `email_taken`.
- Admin habits. A new product or variant gets a SKU of its own (a fixed one meets 409
  `sku_taken` after its first use), a compare-at price above its price or none, and a
  well-formed category id one that exists.
- Orders to pay and refund. createPayment pays an order placed just before; refundOrder
  refunds one paid just before (through the fake Stripe, as a shopper's browser would pay);
  listOrderRefunds reads one of them.
- Stripe's signature. stripeWebhook's deliveries are signed with the endpoint's secret
  (SWIFT_STRIPE_WEBHOOK_SECRET) over the body as it will be sent, as Stripe signs; without
  it every delivery is rightly refused.
- Variants that fit their product. A variant must name each option of its product once,
  with one of its values, and differ from its siblings: a rule across fields (and, for
  createVariant, across requests) that a schema cannot state. Well-formed variants get a
  combination of the options' values, as an admin form would fill them in; the rest of the
  body is sent as generated.

Loaded with SCHEMATHESIS_HOOKS=schemathesis_hooks (PYTHONPATH=.ci). The environment names
the server (SWIFT_BASE_URL), the customer (SWIFT_ACCESS_TOKEN), a staff member
(SWIFT_STAFF_TOKEN), the variant
(SWIFT_VARIANT_ID) and the credentials (below).
"""

import hashlib
import hmac
import itertools
import json
import os
import time
import re
import uuid

import requests
import schemathesis

UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _line_in_cart() -> str | None:
    """Adds a unit of the seeded variant to the customer's cart; the id of its line, or
    None when the customer cannot (their session ended): the request then goes as it was."""
    base = os.environ["SWIFT_BASE_URL"]
    variant = os.environ["SWIFT_VARIANT_ID"]
    auth = {"Authorization": f"Bearer {os.environ['SWIFT_ACCESS_TOKEN']}"}
    # A full line (100 units) refuses more with 400; the line is there all the same.
    requests.post(
        f"{base}/api/v1/cart/items", json={"variant_id": variant, "quantity": 1}, headers=auth, timeout=10
    )
    cart = requests.get(f"{base}/api/v1/cart", headers=auth, timeout=10)
    if cart.status_code != 200:
        return None
    return next((line["id"] for line in cart.json()["items"] if line["product"]["variant_id"] == variant), None)


IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook("before_call")
def a_key_per_request(ctx, case, kwargs):
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and IDEMPOTENCY_KEY.match(value):
            headers[name] = str(uuid.uuid4())


# Per operation: the body fields holding a credential, and the variable with a real one.
CREDENTIALS = {
    "verifyToken": {"token": "SWIFT_ACCESS_TOKEN"},
    "googleLogin": {"id_token": "SWIFT_ID_TOKEN"},
    "exchangeLoginCode": {"login_code": "SWIFT_LOGIN_CODE"},
    "verifyEmail": {"key": "SWIFT_VERIFY_KEY"},
    "confirmPasswordReset": {"uid": "SWIFT_RESET_UID", "token": "SWIFT_RESET_TOKEN"},
    "changePassword": {"old_password": "SWIFT_PASSWORD"},
    "deleteCurrentUser": {"password": "SWIFT_PASSWORD"},
}


@schemathesis.hook("before_call").apply_to(operation_id=list(CREDENTIALS))
def real_credentials(ctx, case, kwargs):
    fields = CREDENTIALS[case.operation.definition.raw["operationId"]]
    if not isinstance(case.body, dict):
        return
    for field, variable in fields.items():
        if isinstance(case.body.get(field), str):
            case.body[field] = _changed.get(variable) or os.environ[variable]


# The password as the last successful changePassword left it: a client that changed its
# password signs in (and changes it again) with the new one.
_changed: dict[str, str] = {}


@schemathesis.hook("after_call").apply_to(operation_id="changePassword")
def remember_the_new_password(ctx, case, response):
    if response.status_code == 204 and isinstance(case.body, dict):
        _changed["SWIFT_PASSWORD"] = case.body["new_password"]


# The refresh token of a session of the hooks' own, rotated as a client rotates it: each
# refresh consumes the token presented and answers the next one.
_refresh = {"token": None}


@schemathesis.hook("before_call").apply_to(operation_id="refreshToken")
def current_refresh_token(ctx, case, kwargs):
    if isinstance(case.body, dict) and isinstance(case.body.get("refresh"), str):
        case.body["refresh"] = _refresh["token"] or os.environ["SWIFT_REFRESH_TOKEN"]


@schemathesis.hook("after_call").apply_to(operation_id="refreshToken")
def next_refresh_token(ctx, case, response):
    if response.status_code == 200:
        _refresh["token"] = response.json()["refresh"]


@schemathesis.hook("before_call").apply_to(operation_id="login")
def the_example_shopper_exists(ctx, case, kwargs):
    """The login example's shopper is a real account; generated addresses stay unknown, so
    refused sign-ins are tested too."""
    if isinstance(case.body, dict) and case.body.get("email") == "ada@example.com":
        case.body["email"] = os.environ["SWIFT_EMAIL"]
        case.body["password"] = os.environ["SWIFT_EMAIL_PASSWORD"]


@schemathesis.hook("before_call").apply_to(operation_id="register")
def a_new_shopper(ctx, case, kwargs):
    """Each registration by a new address: the first would otherwise take the example's
    address, and every later one meet 409 `email_taken`."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("email"), str) and "@" in body["email"]:
        local, domain = body["email"].rsplit("@", 1)
        body["email"] = f"{local[:40]}.{uuid.uuid4().hex[:12]}@{domain}"


def _customer() -> dict:
    return {"Authorization": f"Bearer {os.environ['SWIFT_ACCESS_TOKEN']}"}


def _book() -> list:
    base = os.environ["SWIFT_BASE_URL"]
    resp = requests.get(f"{base}/api/v1/addresses", headers=_customer(), timeout=10)
    return resp.json() if resp.status_code == 200 else []


def _make_room() -> None:
    """A book holds 50 addresses: past 45, all but the first and the newest 40 go."""
    base = os.environ["SWIFT_BASE_URL"]
    book = _book()
    for old in book[1 : len(book) - 40] if len(book) >= 45 else []:
        requests.delete(f"{base}/api/v1/addresses/{old['id']}", headers=_customer(), timeout=10)


def _saved_address() -> str | None:
    """Saves an address in the customer's book: its id."""
    base = os.environ["SWIFT_BASE_URL"]
    _make_room()
    address = {"full_name": "Fuzz Shopper", "line1": "1 Test Street", "city": "Leeds", "postal_code": "LS1", "country": "GB"}
    resp = requests.post(f"{base}/api/v1/addresses", json={"address": address}, headers=_customer(), timeout=10)
    return resp.json()["id"] if resp.status_code == 201 else None


@schemathesis.hook("before_call").apply_to(operation_id="createOrder")
def cart_to_check_out(ctx, case, kwargs):
    _line_in_cart()
    body = case.body
    if not isinstance(body, dict):
        return
    # The store ships by zone: the cart gets the seeded method (its zone has every country)
    # before it is checked out, as a storefront has the shopper choose one.
    address = body.get("shipping_address")
    country = address.get("country") if isinstance(address, dict) else None
    base = os.environ["SWIFT_BASE_URL"]
    requests.put(
        f"{base}/api/v1/cart/shipping",
        json={"country": country if isinstance(country, str) else "GB", "method_id": os.environ["SWIFT_METHOD_ID"]},
        headers=_customer(),
        timeout=10,
    )
    # A client gives an address inline or by id, never both (a rule across fields that the
    # schema does not state); it sends the id of an address it saved, and the total it was shown.
    for kind in ("shipping_address", "billing_address"):
        if body.get(kind) is not None and f"{kind}_id" in body:
            del body[f"{kind}_id"]
    if isinstance(body.get("shipping_address_id"), str) and UUID.match(body["shipping_address_id"]):
        body["shipping_address_id"] = _saved_address() or body["shipping_address_id"]
    if isinstance(body.get("billing_address_id"), str) and UUID.match(body["billing_address_id"]):
        body["billing_address_id"] = _saved_address() or body["billing_address_id"]
    if isinstance(body.get("expected_total"), str) and re.match(r"^\d{1,10}\.\d{2}$", body["expected_total"]):
        base = os.environ["SWIFT_BASE_URL"]
        cart = requests.get(f"{base}/api/v1/cart", headers=_customer(), timeout=10)
        if cart.status_code == 200:
            body["expected_total"] = cart.json()["total"]


@schemathesis.hook("before_call").apply_to(operation_id="createAddress")
def room_in_the_book(ctx, case, kwargs):
    _make_room()


@schemathesis.hook("before_call").apply_to(operation_id=["updateAddress", "deleteAddress"])
def address_to_change(ctx, case, kwargs):
    address_id = (case.path_parameters or {}).get("id")
    if isinstance(address_id, str) and UUID.match(address_id):
        case.path_parameters["id"] = _saved_address() or address_id


@schemathesis.hook("before_call").apply_to(operation_id=["updateCartItem", "removeCartItem"])
def line_to_change(ctx, case, kwargs):
    item_id = (case.path_parameters or {}).get("item_id")
    if isinstance(item_id, str) and UUID.match(item_id):
        case.path_parameters["item_id"] = _line_in_cart() or item_id


def _is_option(option) -> bool:
    return (
        isinstance(option, dict)
        and isinstance(option.get("name"), str)
        and isinstance(option.get("values"), list)
        and len(option["values"]) > 0
        and all(isinstance(v, str) for v in option["values"])
    )


def _fit_variants(variants, options) -> None:
    """Gives each variant its own combination of the product's option values, as an admin
    form would: the schema cannot say that a variant names every option of its product once,
    with one of its values, and random data almost never does."""
    combinations = list(itertools.islice(itertools.product(*(o["values"] for o in options)), len(variants)))
    for i, variant in enumerate(variants):
        if isinstance(variant, dict) and i < len(combinations):
            variant["options"] = [{"name": o["name"], "value": v} for o, v in zip(options, combinations[i])]


MONEY = re.compile(r"^\d{1,10}\.\d{2}$")
SKU = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_categories: list[str] = []


def _a_category() -> str | None:
    if not _categories:
        found = requests.get(f"{os.environ['SWIFT_BASE_URL']}/api/v1/categories", timeout=10)
        if found.status_code == 200:
            _categories.extend(c["id"] for c in found.json())
    return _categories[0] if _categories else None


def _like_an_admin(variant) -> None:
    """A new SKU each time (a fixed one is taken after its first use: 409), and a compare-at
    price above the price, as the server requires of two fields together."""
    if isinstance(variant.get("sku"), str) and SKU.match(variant["sku"]):
        variant["sku"] = f"{variant['sku'][:50]}-{uuid.uuid4().hex[:8]}"
    price, was = variant.get("price"), variant.get("compare_at_price")
    if isinstance(price, str) and isinstance(was, str) and MONEY.match(price) and MONEY.match(was):
        if float(was) <= float(price):
            del variant["compare_at_price"]


def _real_category(body) -> None:
    """A well-formed category id names one that exists (random ones never do: 400)."""
    if isinstance(body.get("category_id"), str) and UUID.match(body["category_id"]):
        body["category_id"] = _a_category() or body["category_id"]


@schemathesis.hook("before_call").apply_to(operation_id="createProduct")
def variants_fit_their_options(ctx, case, kwargs):
    body = case.body
    if not isinstance(body, dict):
        return
    _real_category(body)
    if not isinstance(body.get("variants"), list):
        return
    options = body.get("options", [])
    if isinstance(options, list) and all(_is_option(o) for o in options):
        _fit_variants(body["variants"], options)
    for variant in body["variants"]:
        if isinstance(variant, dict):
            _like_an_admin(variant)


@schemathesis.hook("before_call").apply_to(operation_id="updateProduct")
def an_existing_category(ctx, case, kwargs):
    if isinstance(case.body, dict):
        _real_category(case.body)


@schemathesis.hook("before_call").apply_to(operation_id="createVariant")
def a_variant_fits_its_product(ctx, case, kwargs):
    """The options of the product the variant joins, as staff read them."""
    body, product = case.body, (case.path_parameters or {}).get("id")
    if not isinstance(body, dict):
        return
    _like_an_admin(body)
    if not (isinstance(product, str) and UUID.match(product)):
        return
    found = requests.get(
        f"{os.environ['SWIFT_BASE_URL']}/api/v1/admin/products/{product}",
        headers={"Authorization": f"Bearer {os.environ['SWIFT_STAFF_TOKEN']}"},
        timeout=10,
    )
    if found.status_code != 200:
        return
    detail = found.json()
    taken = {tuple(o["value"] for o in v["options"]) for v in detail["variants"]}
    every = list(itertools.product(*(o["values"] for o in detail["options"])))
    # A free combination, or (none left) a taken one: 409 `variant_options_taken`, rightly.
    chosen = next((c for c in every if c not in taken), every[0])
    body["options"] = [{"name": o["name"], "value": v} for o, v in zip(detail["options"], chosen)]


# ---- shipping, tax and discount codes (#16) ----


def _staff() -> dict:
    return {"Authorization": f"Bearer {os.environ['SWIFT_STAFF_TOKEN']}"}


def _admin_create(path: str, body: dict) -> str | None:
    base = os.environ["SWIFT_BASE_URL"]
    resp = requests.post(f"{base}/api/v1/admin{path}", json=body, headers=_staff(), timeout=10)
    return resp.json()["id"] if resp.status_code == 201 else None


def _zone() -> str | None:
    return _admin_create("/shipping-zones", {"name": "Fuzz zone", "countries": ["GB"]})


def _method() -> str | None:
    zone = _zone()
    return zone and _admin_create(f"/shipping-zones/{zone}/methods", {"name": "Fuzz", "rate": {"kind": "flat", "price": "1.00"}})


def _tax_rate() -> str | None:
    return _admin_create("/tax-rates", {"country": "GB", "region": uuid.uuid4().hex, "name": "Fuzz", "percent": "5"})


def _code() -> str | None:
    return _admin_create("/discount-codes", {"code": f"F{uuid.uuid4().hex[:12]}", "kind": "percent", "value": "5"})


def _placed_order() -> str | None:
    """A new order of the customer's: a unit of the seeded variant, shipped by the seeded
    method, checked out."""
    base = os.environ["SWIFT_BASE_URL"]
    _line_in_cart()
    requests.put(
        f"{base}/api/v1/cart/shipping",
        json={"country": "GB", "method_id": os.environ["SWIFT_METHOD_ID"]},
        headers=_customer(),
        timeout=10,
    )
    address = {"full_name": "Fuzz Shopper", "line1": "1 Test Street", "city": "Leeds", "postal_code": "LS1", "country": "GB"}
    resp = requests.post(f"{base}/api/v1/orders", json={"shipping_address": address}, headers=_customer(), timeout=10)
    if resp.status_code == 409 and resp.json().get("code") == "insufficient_stock":
        # The admin fuzzer takes stock away too (adjustStock's boundary is -1,000,000): staff
        # restock the variant, as a shop would, and the shopper tries again.
        _restock()
        resp = requests.post(f"{base}/api/v1/orders", json={"shipping_address": address}, headers=_customer(), timeout=10)
    return resp.json()["id"] if resp.status_code == 201 else None


def _restock() -> None:
    """The seeded variant on sale again, with stock: the admin fuzzer sets stock to its
    boundary values (0 among them) and switches variants and products off."""
    base = os.environ["SWIFT_BASE_URL"]
    product, variant = os.environ["SWIFT_PRODUCT_ID"], os.environ["SWIFT_VARIANT_ID"]
    requests.patch(f"{base}/api/v1/admin/products/{product}", json={"is_active": True}, headers=_staff(), timeout=10)
    requests.patch(
        f"{base}/api/v1/admin/products/{product}/variants/{variant}",
        json={"stock": 1_000_000, "is_active": True},
        headers=_staff(),
        timeout=10,
    )


def _paid_order() -> str | None:
    """An order placed and paid as a storefront does: its payment, confirmed at (the fake)
    Stripe with a test card, whose webhook marks it paid."""
    base = os.environ["SWIFT_BASE_URL"]
    order = _placed_order()
    if order is None:
        return None
    payment = requests.post(f"{base}/api/v1/orders/{order}/payment", headers=_customer(), timeout=10)
    if payment.status_code != 200:
        return order
    intent = payment.json()
    requests.post(
        f"{os.environ['SWIFT_STRIPE_API_BASE']}/v1/payment_intents/{intent['intent_id']}/confirm",
        headers={"Authorization": f"Bearer {os.environ['SWIFT_STRIPE_PUBLISHABLE_KEY']}"},
        data={"client_secret": intent["client_secret"], "payment_method": "pm_card_visa"},
        timeout=10,
    )
    return order


# The resource an update or a delete works on, made just before, as staff would have it.
MADE_BEFORE = {
    "createPayment": _placed_order,
    "refundOrder": _paid_order,
    "listOrderRefunds": _paid_order,
    "updateShippingZone": _zone,
    "deleteShippingZone": _zone,
    "createShippingMethod": _zone,
    "updateShippingMethod": _method,
    "deleteShippingMethod": _method,
    "updateTaxRate": _tax_rate,
    "deleteTaxRate": _tax_rate,
    "updateDiscountCode": _code,
    "deleteDiscountCode": _code,
}


@schemathesis.hook("before_call").apply_to(operation_id=list(MADE_BEFORE))
def a_resource_to_change(ctx, case, kwargs):
    made = MADE_BEFORE[case.operation.definition.raw["operationId"]]
    resource = (case.path_parameters or {}).get("id")
    if isinstance(resource, str) and UUID.match(resource):
        case.path_parameters["id"] = made() or resource


@schemathesis.hook("before_call").apply_to(operation_id=["createTaxRate", "updateTaxRate"])
def a_place_of_its_own(ctx, case, kwargs):
    # One rate per country and region: each new rate gets a region of its own.
    if isinstance(case.body, dict):
        case.body["region"] = uuid.uuid4().hex


@schemathesis.hook("before_call").apply_to(operation_id=["createDiscountCode", "updateDiscountCode"])
def terms_an_admin_would_set(ctx, case, kwargs):
    # Rules across fields the schema cannot state: a code of its own (codes are unique), a
    # percentage of at most 100, and a window that ends after it starts.
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("code"), str) and re.match(r"^[A-Za-z0-9_-]{3,40}$", body["code"]):
        body["code"] = f"{body['code'][:20]}{uuid.uuid4().hex[:12]}"
    value = body.get("value")
    if body.get("kind") == "percent" and isinstance(value, str) and re.match(r"^\d{1,10}(\.\d{1,2})?$", value):
        if not 0 < float(value) <= 100:
            body["value"] = "10"
    if body.get("kind") == "fixed" and isinstance(value, str) and re.match(r"^\d{1,10}(\.\d{1,2})?$", value):
        if float(value) == 0:
            body["value"] = "1.00"
    starts, ends = body.get("starts_at"), body.get("ends_at")
    if isinstance(starts, str) and isinstance(ends, str) and starts >= ends:
        del body["ends_at"]


@schemathesis.hook("before_call").apply_to(operation_id="setCartShipping")
def a_method_that_ships(ctx, case, kwargs):
    if isinstance(case.body, dict) and isinstance(case.body.get("method_id"), str) and UUID.match(case.body["method_id"]):
        case.body["method_id"] = os.environ["SWIFT_METHOD_ID"]


@schemathesis.hook("before_call").apply_to(operation_id="applyDiscountCode")
def a_code_that_exists(ctx, case, kwargs):
    if isinstance(case.body, dict) and isinstance(case.body.get("code"), str):
        case.body["code"] = os.environ["SWIFT_DISCOUNT_CODE"]


@schemathesis.hook("before_call").apply_to(operation_id="stripeWebhook")
def signed_as_stripe_signs(ctx, case, kwargs):
    if not isinstance(case.body, dict):
        return
    secret = os.environ["SWIFT_STRIPE_WEBHOOK_SECRET"].encode()
    t = int(time.time())
    # The body goes out as JSON text; sign each way it may be written (a signature header
    # carries any number of v1 values, as when Stripe rolls a secret).
    payloads = {
        json.dumps(case.body, allow_nan=False),
        json.dumps(case.body, allow_nan=False, separators=(",", ":")),
        json.dumps(case.body, allow_nan=False, ensure_ascii=False),
        json.dumps(case.body, allow_nan=False, ensure_ascii=False, separators=(",", ":")),
    }
    signatures = [
        hmac.new(secret, f"{t}.".encode() + payload.encode(), hashlib.sha256).hexdigest() for payload in sorted(payloads)
    ]
    case.headers = case.headers or {}
    for name in [n for n in case.headers if n.lower() == "stripe-signature"]:
        del case.headers[name]
    case.headers["Stripe-Signature"] = ",".join([f"t={t}"] + [f"v1={sig}" for sig in signatures])


# ---- two-factor sign-in and sign-in methods (#19) ----
#
# Each of these operations runs alone (.ci/e2e.sh), signed in as an account of its own
# (SWIFT_TF_EMAIL, SWIFT_TF_TOKEN, password SWIFT_PASSWORD), whose state the hooks set up as
# a person at the screen would: an app enrolled (codes computed from its secret, RFC 6238),
# recovery codes kept, a Google identity connected (the tests' provider, by `login_hint`).
# Generated codes and challenges are replaced only when they are strings of a valid shape,
# so malformed ones still meet the server's 400.

from credentials import id_token  # noqa: E402


def _tf() -> dict:
    return {"Authorization": f"Bearer {os.environ['SWIFT_TF_TOKEN']}"}


def _app_code(secret: str, at: float) -> str:
    """The six digits an authenticator app shows for the base32 `secret` at `at`."""
    import base64
    import struct

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


# The account's unused recovery codes, as the hooks last saw them.
_recovery: list[str] = []


def _tf_status() -> dict:
    return requests.get(f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/two-factor", headers=_tf(), timeout=10).json()


def _enrol() -> str:
    resp = requests.post(f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/two-factor", headers=_tf(), timeout=10)
    return resp.json()["secret"]


def _tf_on() -> None:
    """Two-factor sign-in on, with recovery codes in hand."""
    if _tf_status()["enabled"] and _recovery:
        return
    _tf_off()
    secret = _enrol()
    resp = requests.post(
        f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/two-factor/confirm",
        json={"code": _app_code(secret, time.time())},
        headers=_tf(),
        timeout=10,
    )
    _recovery[:] = resp.json()["recovery_codes"]


def _tf_off() -> None:
    if _tf_status()["enabled"] and _recovery:
        requests.post(
            f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/two-factor/disable",
            json={"password": os.environ["SWIFT_PASSWORD"], "code": _recovery.pop()},
            headers=_tf(),
            timeout=10,
        )
        _recovery.clear()


def _a_recovery_code() -> str:
    """An unused recovery code, renewing the set before it runs out."""
    _tf_on()
    if len(_recovery) < 2:
        resp = requests.post(
            f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/two-factor/recovery-codes",
            json={"code": _recovery.pop()},
            headers=_tf(),
            timeout=10,
        )
        _recovery[:] = resp.json()["recovery_codes"]
    return _recovery.pop()


CODE = re.compile(r"^\s*\S.{4,18}\S\s*$")


def _set_code(body, code: str) -> None:
    if isinstance(body, dict) and isinstance(body.get("code"), str) and CODE.match(body["code"]):
        body["code"] = code


@schemathesis.hook("before_call").apply_to(operation_id="confirmTwoFactor")
def the_apps_first_code(ctx, case, kwargs):
    _tf_off()
    _set_code(case.body, _app_code(_enrol(), time.time()))


@schemathesis.hook("after_call").apply_to(operation_id=["confirmTwoFactor", "regenerateRecoveryCodes"])
def keep_the_recovery_codes(ctx, case, response):
    if response.status_code == 200:
        _recovery[:] = response.json()["recovery_codes"]


@schemathesis.hook("before_call").apply_to(operation_id=["disableTwoFactor", "regenerateRecoveryCodes"])
def a_code_in_hand(ctx, case, kwargs):
    _set_code(case.body, _a_recovery_code())
    if isinstance(case.body, dict) and isinstance(case.body.get("password"), str):
        case.body["password"] = os.environ["SWIFT_PASSWORD"]


@schemathesis.hook("after_call").apply_to(operation_id="disableTwoFactor")
def off_means_no_codes(ctx, case, response):
    if response.status_code == 204:
        _recovery.clear()


@schemathesis.hook("before_call").apply_to(operation_id="completeSignIn")
def a_challenge_and_its_code(ctx, case, kwargs):
    code = _a_recovery_code()
    resp = requests.post(
        f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/login",
        json={"email": os.environ["SWIFT_TF_EMAIL"], "password": os.environ["SWIFT_PASSWORD"]},
        timeout=10,
    )
    if isinstance(case.body, dict) and isinstance(case.body.get("challenge"), str) and resp.status_code == 202:
        case.body["challenge"] = resp.json()["challenge"]
    _set_code(case.body, code)


def _fresh_google_identity() -> str:
    return id_token(os.environ["SWIFT_OIDC_ISSUER"], f"fuzz-{uuid.uuid4().hex[:12]}@swift.example")


@schemathesis.hook("before_call").apply_to(operation_id="connectGoogle")
def a_google_identity_of_its_own(ctx, case, kwargs):
    # SWIFT_ID_TOKEN's identity is another account's (409, rightly); a new one connects.
    if isinstance(case.body, dict) and isinstance(case.body.get("id_token"), str):
        case.body["id_token"] = _fresh_google_identity()


@schemathesis.hook("before_call").apply_to(operation_id="disconnectSignInMethod")
def google_connected(ctx, case, kwargs):
    # Two methods, so that Google can go (.ci/schemathesis.toml names it) and the password stays.
    requests.post(
        f"{os.environ['SWIFT_BASE_URL']}/api/v1/auth/google/connect",
        json={"id_token": _fresh_google_identity()},
        headers=_tf(),
        timeout=10,
    )
