//! `Debug` for the wire types that carry secrets (passwords, one-time codes, tokens): the
//! secret fields print as `<redacted>`, so a type logged with `{:?}` leaks nothing.

/// Implements `Debug` for `$ty`, printing `$shown` fields as they are and `$secret` fields
/// as `<redacted>`.
macro_rules! debug_redacted {
    ($ty:ident { shown: [$($shown:ident),* $(,)?], secret: [$($secret:ident),* $(,)?] }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &$crate::redact::Redacted))*
                    .finish()
            }
        }
    };
}
pub(crate) use debug_redacted;

/// Prints `<redacted>`.
pub(crate) struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use crate::api::auth::{EnrollmentToken, PasswordSignIn};
    use crate::api::oidc::OidcTokenResponse;
    use crate::api::signin::{RenewRequest, SignInResponse, TokenRequest, TokenResponse};

    #[test]
    fn secrets_never_show_in_debug() {
        let secret = "s3cr3t-value";
        let shown = [
            format!(
                "{:?}",
                PasswordSignIn {
                    upn: "a@b".into(),
                    password: secret.into(),
                    otp: Some(secret.into()),
                }
            ),
            format!(
                "{:?}",
                EnrollmentToken {
                    token: secret.into(),
                    expires_in: 1,
                    amr: vec![],
                }
            ),
            format!(
                "{:?}",
                OidcTokenResponse {
                    access_token: secret.into(),
                    token_type: "Bearer".into(),
                    expires_in: 1,
                    id_token: secret.into(),
                    refresh_token: secret.into(),
                    scope: "openid".into(),
                }
            ),
            format!(
                "{:?}",
                SignInResponse {
                    prt: secret.into(),
                    prt_expires_at: 1,
                    id_token: secret.into(),
                    access_token: secret.into(),
                    expires_in: 1,
                }
            ),
            format!(
                "{:?}",
                RenewRequest {
                    prt: secret.into(),
                    device_id: "d".into(),
                    nonce: "n".into(),
                    device_signature: "sig".into(),
                }
            ),
            format!(
                "{:?}",
                TokenRequest {
                    prt: secret.into(),
                    audience: "api://x".into(),
                    device_id: None,
                    nonce: None,
                    device_signature: None,
                }
            ),
            format!(
                "{:?}",
                TokenResponse {
                    access_token: secret.into(),
                    expires_in: 1,
                    token_type: "Bearer".into(),
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
