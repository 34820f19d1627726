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
- A session to refresh: refreshToken presents the token its last answer gave, as a client
  does (the first comes from a sign-in of customer3's: SWIFT_REFRESH_TOKEN).
- A known shopper. The login example signs in as a seeded customer.
- New shoppers. Each registration gets an address of its own; otherwise every one after the
  first meets 409 `email_taken`.
- Admin habits. A new product or variant gets a SKU of its own (a fixed one meets 409
  `sku_taken` after its first use), a compare-at price above its price or none, and a
  well-formed category id one that exists.
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

import itertools
import os
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


@schemathesis.hook("before_call").apply_to(operation_id="createOrder")
def cart_to_check_out(ctx, case, kwargs):
    _line_in_cart()


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
