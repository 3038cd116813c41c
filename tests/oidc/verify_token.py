"""Verify a Latchkey token as an independent relying party would.

Usage: verify_token.py ISSUER AUDIENCE < token

Fetches the OpenID Provider metadata from ISSUER/.well-known/openid-configuration, takes
the signing key from its jwks_uri with PyJWT's PyJWKClient, verifies the signature, issuer,
audience and expiry, and prints the verified claims as JSON. TLS trust comes from
SSL_CERT_FILE (the tenant CA). Exits 1 with the reason on stderr when verification fails.
"""
import json
import sys
import urllib.request

import jwt


def main() -> int:
    issuer, audience = sys.argv[1], sys.argv[2]
    token = sys.stdin.read().strip()
    with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration") as r:
        metadata = json.load(r)
    if metadata.get("issuer") != issuer:
        print(f"issuer mismatch: {metadata.get('issuer')!r}", file=sys.stderr)
        return 1
    client = jwt.PyJWKClient(metadata["jwks_uri"])
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=metadata.get("id_token_signing_alg_values_supported", ["ES256"]),
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as e:
        print(f"rejected: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
