//! Connection tokens: short-lived HS256 JWTs that the WebSocket `connect` (and
//! `refresh`) commands carry.
//!
//! Claims: `sub` (user id), `iat`, `exp`, `jti`, `info` (name and display name,
//! shown in presence), `iss`/`aud` (fixed, always checked), and `src`: the
//! credential the token was exchanged for (`pat_…` or `session:<hash>`), so a
//! revoked PAT or a signed-out session ends its live connections too.
//!
//! Subscription tokens (Centrifugo's channel JWTs) let a client read a channel
//! of an integrator's namespace: HS256 with the same key, signed by the
//! integrator's backend (or `solo admin subscription-token`), with the claims
//! `sub` (the connection's user), `channel`, `exp` and optionally `info`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const ISSUER: &str = "solo";
const AUDIENCE: &str = "solo-realtime";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub info: serde_json::Value,
    pub src: String,
}

/// The claims of a subscription token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubscriptionClaims {
    pub sub: String,
    pub channel: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
}

/// Issues and verifies connection tokens with one HS256 key.
#[derive(Clone)]
pub struct ConnectionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Integrators sign subscription tokens without Solo's issuer and audience.
    subscription_validation: Validation,
    pub ttl_secs: u64,
}

impl std::fmt::Debug for ConnectionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionTokens").field("ttl_secs", &self.ttl_secs).finish_non_exhaustive()
    }
}

impl ConnectionTokens {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is exact: the protocol's refresh flow, not clock leeway, covers renewal.
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let mut subscription_validation = Validation::new(Algorithm::HS256);
        subscription_validation.leeway = 0;
        subscription_validation.validate_nbf = true;
        subscription_validation.validate_aud = false;
        subscription_validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            subscription_validation,
            ttl_secs,
        }
    }

    /// A token for `user_id`, valid for the configured lifetime from `now_secs`.
    pub fn issue(
        &self,
        user_id: &str,
        info: serde_json::Value,
        src: &str,
        now_secs: i64,
    ) -> Result<(String, Claims), TokenError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            iat: now_secs,
            exp: now_secs + self.ttl_secs as i64,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            info,
            src: src.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            }
        })
    }
}

impl ConnectionTokens {
    /// A subscription token: `user` may read `channel` until `exp_secs`.
    pub fn issue_subscription(&self, user: &str, channel: &str, exp_secs: i64) -> Result<String, TokenError> {
        let claims =
            SubscriptionClaims { sub: user.to_owned(), channel: channel.to_owned(), exp: exp_secs, info: None };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| TokenError::Invalid)
    }

    /// Verifies a subscription token for `user` on `channel`: signature,
    /// algorithm, expiry, and that it names both.
    pub fn verify_subscription(
        &self,
        token: &str,
        channel: &str,
        user: &str,
    ) -> Result<SubscriptionClaims, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Invalid);
        }
        let claims = jsonwebtoken::decode::<SubscriptionClaims>(token, &self.decoding, &self.subscription_validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if claims.channel != channel || claims.sub != user {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        solo_domain::time::now_ms() / 1000
    }

    #[test]
    fn round_trip_and_refusals() {
        let tokens = ConnectionTokens::new(b"0123456789abcdef0123456789abcdef", 600);
        let (token, claims) = tokens.issue("u_1", serde_json::json!({"name": "ada"}), "pat_1", now()).expect("issue");
        assert_eq!(tokens.verify(&token), Ok(claims));

        let (old, _) = tokens.issue("u_1", serde_json::json!({}), "pat_1", now() - 700).expect("issue");
        assert_eq!(tokens.verify(&old), Err(TokenError::Expired));

        let other = ConnectionTokens::new(b"another key, another key, another", 600);
        assert_eq!(other.verify(&token), Err(TokenError::Invalid), "wrong key");

        // alg=none with the same claims.
        let parts: Vec<&str> = token.split('.').collect();
        use base64::Engine;
        let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(tokens.verify(&format!("{none_header}.{}.", parts[1])), Err(TokenError::Invalid));
        // Tampered payload.
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(
                &serde_json::json!({"sub": "u_2", "exp": now() + 600, "iss": "solo", "aud": "solo-realtime"}),
            )
            .expect("json"),
        );
        assert_eq!(tokens.verify(&format!("{}.{forged}.{}", parts[0], parts[2])), Err(TokenError::Invalid));
        assert_eq!(tokens.verify("garbage"), Err(TokenError::Invalid));
    }

    /// Signs arbitrary claims with `key` and `alg`, as an attacker holding (or
    /// guessing) a key would.
    fn forge(claims: &serde_json::Value, key: &[u8], alg: Algorithm) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("encode")
    }

    #[test]
    fn every_kind_of_bad_token_is_refused() {
        let key = b"0123456789abcdef0123456789abcdef";
        let tokens = ConnectionTokens::new(key, 600);
        let good = serde_json::json!({"sub": "u_1", "iat": now(), "exp": now() + 600, "jti": "j", "iss": "solo",
            "aud": "solo-realtime", "info": {}, "src": "pat_1"});
        assert!(tokens.verify(&forge(&good, key, Algorithm::HS256)).is_ok(), "the control token passes");

        let with = |field: &str, value: serde_json::Value| {
            let mut claims = good.clone();
            claims[field] = value;
            claims
        };
        let without = |field: &str| {
            let mut claims = good.clone();
            claims.as_object_mut().expect("object").remove(field);
            claims
        };
        let cases = [
            ("another HMAC algorithm", forge(&good, key, Algorithm::HS384)),
            ("HS512", forge(&good, key, Algorithm::HS512)),
            ("another key", forge(&good, b"not the server key, not the key!", Algorithm::HS256)),
            ("not yet valid", forge(&with("nbf", serde_json::json!(now() + 300)), key, Algorithm::HS256)),
            ("another issuer", forge(&with("iss", serde_json::json!("elsewhere")), key, Algorithm::HS256)),
            ("another audience", forge(&with("aud", serde_json::json!("other")), key, Algorithm::HS256)),
            ("no expiry", forge(&without("exp"), key, Algorithm::HS256)),
            ("no subject", forge(&without("sub"), key, Algorithm::HS256)),
            ("oversized", "a".repeat(9000)),
            ("empty", String::new()),
        ];
        for (what, token) in cases {
            assert_eq!(tokens.verify(&token), Err(TokenError::Invalid), "{what}");
        }
        let expired = forge(&with("exp", serde_json::json!(now() - 1)), key, Algorithm::HS256);
        assert_eq!(tokens.verify(&expired), Err(TokenError::Expired));
    }

    #[test]
    fn a_subscription_token_opens_its_channel_for_its_user_only() {
        let key = b"0123456789abcdef0123456789abcdef";
        let tokens = ConnectionTokens::new(key, 600);
        let token = tokens.issue_subscription("u_1", "chat:lobby", now() + 60).expect("issue");
        let claims = tokens.verify_subscription(&token, "chat:lobby", "u_1").expect("valid");
        assert_eq!((claims.sub.as_str(), claims.channel.as_str()), ("u_1", "chat:lobby"));
        assert_eq!(
            tokens.verify_subscription(&token, "chat:other", "u_1"),
            Err(TokenError::Invalid),
            "another channel"
        );
        assert_eq!(tokens.verify_subscription(&token, "chat:lobby", "u_2"), Err(TokenError::Invalid), "another user");
        let old = tokens.issue_subscription("u_1", "chat:lobby", now() - 1).expect("issue");
        assert_eq!(tokens.verify_subscription(&old, "chat:lobby", "u_1"), Err(TokenError::Expired));
        let other = ConnectionTokens::new(b"another key, another key, another", 600);
        assert_eq!(other.verify_subscription(&token, "chat:lobby", "u_1"), Err(TokenError::Invalid), "wrong key");
        // As an integrator's backend signs it: with `info`, an audience of its own, no issuer.
        let signed = forge(
            &serde_json::json!({"sub": "u_1", "channel": "chat:lobby", "exp": now() + 60, "info": {"role": "mod"}, "aud": "theirs"}),
            key,
            Algorithm::HS256,
        );
        let claims = tokens.verify_subscription(&signed, "chat:lobby", "u_1").expect("an integrator's token");
        assert_eq!(claims.info, Some(serde_json::json!({"role": "mod"})));
        let unsigned = forge(
            &serde_json::json!({"sub": "u_1", "channel": "chat:lobby", "exp": now() + 60}),
            key,
            Algorithm::HS512,
        );
        assert_eq!(tokens.verify_subscription(&unsigned, "chat:lobby", "u_1"), Err(TokenError::Invalid), "HS256 only");
        // A connection token is no subscription token (it names no channel), nor the reverse.
        let (connection, _) = tokens.issue("u_1", serde_json::json!({}), "pat_1", now()).expect("issue");
        assert_eq!(tokens.verify_subscription(&connection, "chat:lobby", "u_1"), Err(TokenError::Invalid));
        assert_eq!(tokens.verify(&token), Err(TokenError::Invalid));
    }
}
