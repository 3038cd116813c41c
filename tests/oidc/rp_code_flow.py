"""An OpenID Connect relying party built on Authlib (a library no one on the Latchkey team
wrote): discovery, the authorization code flow with PKCE (S256) and a confidential client
(client_secret_basic), ID-token validation against the JWKS (signature, iss, aud, exp, iat,
nonce), UserInfo, and a refresh.

Usage: rp_code_flow.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI CA_FILE
Prints the authorization URL, reads the URL the browser was redirected to from stdin, then
prints one JSON line with what it accepted.
"""
import json
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken


def main():
    issuer, client_id, secret, redirect_uri, ca_file = sys.argv[1:6]
    client = OAuth2Session(
        client_id,
        secret,
        scope="openid profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    client.verify = ca_file
    meta = client.get(issuer + "/.well-known/openid-configuration", withhold_token=True).json()
    assert meta["issuer"] == issuer, meta
    verifier = generate_token(48)
    nonce = generate_token(16)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    print(url, flush=True)
    callback = sys.stdin.readline().strip()
    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    jwks = JsonWebKey.import_key_set(client.get(meta["jwks_uri"], withhold_token=True).json())
    options = {"iss": {"essential": True, "values": [issuer]}}
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options=options,
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    claims.validate()
    info = client.get(meta["userinfo_endpoint"]).json()
    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    again = jwt.decode(
        refreshed["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options=options,
        claims_params={"client_id": client_id},
    )
    again.validate()
    print(
        json.dumps(
            {
                "sub": claims["sub"],
                "upn": claims["upn"],
                "amr": claims["amr"],
                "userinfo": info,
                "refreshed_sub": again["sub"],
                "refresh_rotated": refreshed["refresh_token"] != token["refresh_token"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
