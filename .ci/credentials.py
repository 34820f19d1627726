"""Real credentials for schemathesis in .ci/e2e.sh, obtained the way a user obtains them.

Some operations only do their work with a credential nobody can guess: a mailed link's key or
token, an id_token signed by Google, the login code of the Google redirect flow. Without one,
every request schemathesis sends is rightly refused and the operation is never reached. This
script fetches them from the live server, its mail folder (EMAIL_BACKEND=file) and the tests'
local OpenID Provider:

  credentials.py mailed DIR TO PARAM     value of PARAM in the newest link mailed to TO
  credentials.py id-token ISSUER [EMAIL] an id_token, by the provider's code flow (for EMAIL:
                                         a Google identity of its own, by `login_hint`)
  credentials.py login-code BASE         a login_code, by SWIFT's own Google redirect flow
"""

import base64
import email
import glob
import hashlib
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "swift-test-client"
CLIENT_SECRET = "swift-test-secret"


def mailed(folder: str, to: str, param: str) -> str:
    """Waits (10 s at most) for a mail to `to` carrying a link with `param`; mail is sent in
    the background, after the request that asked for it has been answered."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for path in glob.glob(os.path.join(folder, "*.eml")):
            with open(path, encoding="utf-8") as f:
                message = email.message_from_file(f)
            if message["To"] != to:
                continue
            # The plain-text part (mails carry an HTML alternative, whose links are escaped).
            part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            body = part.get_payload(decode=True).decode()
            match = re.search(rf"[?&]{param}=([^&\s]+)", body)
            if match:
                found.append((os.path.getmtime(path), urllib.parse.unquote(match.group(1))))
        if found:
            return max(found)[1]
        if time.monotonic() > deadline:
            sys.exit(f"no mail to {to} with {param} in {folder}")
        time.sleep(0.05)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def opener():
    return urllib.request.build_opener(NoRedirect())


def redirect(open_, url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """The Location of the redirect `url` answers with, and the cookie it sets."""
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        response = open_.open(request)
    except urllib.error.HTTPError as e:
        if e.code in (301, 302, 303, 307, 308):
            set_cookie = e.headers.get("Set-Cookie")
            return e.headers["Location"], set_cookie.split(";")[0] if set_cookie else None
        raise
    sys.exit(f"{url} answered {response.status}, not a redirect")


def id_token(issuer: str, login_hint: str | None = None) -> str:
    """What Google Identity Services hands a frontend, by the provider's authorization code
    flow with PKCE."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = "http://localhost:3000/auth/google"
    query = urllib.parse.urlencode({
        "client_id": CLIENT_ID, "response_type": "code", "scope": "openid email profile",
        "redirect_uri": redirect_uri, "state": "e2e", "code_challenge": challenge,
        "code_challenge_method": "S256",
        **({"login_hint": login_hint} if login_hint else {}),
    })
    back, _ = redirect(opener(), f"{issuer}/authorize?{query}")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(back).query)["code"][0]
    form = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    }).encode()
    with urllib.request.urlopen(f"{issuer}/token", data=form) as response:
        return json.load(response)["id_token"]


def login_code(base: str) -> str:
    """SWIFT's redirect flow as a browser follows it: authorize, the provider's consent,
    the callback, and the storefront URL carrying the login code."""
    # The flow cookie is `Secure`; browsers send it to http://127.0.0.1 (a secure context),
    # Python's cookie jar does not, so it is carried by hand.
    open_ = opener()
    url, cookie = redirect(open_, f"{base}/api/v1/auth/google/authorize")
    for _ in range(2):
        url, _ = redirect(open_, url, cookie if url.startswith(base) else None)
        query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
        if "login_code" in query:
            return query["login_code"][0]
    sys.exit(f"the Google flow ended at {url} without a login_code")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print({"mailed": mailed, "id-token": id_token, "login-code": login_code}[command](*args))
