//! The CLI's side of the API: an HTTP client that turns error responses into
//! typed failures (so `main` can pick the exit code), and the realtime watcher.

pub mod config;
pub mod realtime;
pub mod since;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

/// A request the server refused, with its stable code and message.
#[derive(Debug, Error)]
#[error("{message} ({code}, HTTP {status})")]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiFailure {
    pub fn is_auth(&self) -> bool {
        self.status == 401
    }
}

/// Not signed in at all.
#[derive(Debug, Error)]
#[error("not signed in: run `solo login --server URL --token PAT` (or set SOLO_SERVER and SOLO_TOKEN)")]
pub struct NotSignedIn;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    token: String,
}

/// A conditional GET's outcome.
pub enum Fetched<T> {
    Fresh { body: T, etag: Option<String>, poll_interval: Option<u64> },
    NotModified { poll_interval: Option<u64> },
}

impl Api {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("solo-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), token: token.to_owned() })
    }

    /// From the saved login (or SOLO_SERVER / SOLO_TOKEN).
    pub fn from_config() -> anyhow::Result<Self> {
        let config = config::load()?.ok_or(NotSignedIn)?;
        Self::new(&config.server, &config.token)
    }

    async fn failure(response: reqwest::Response) -> anyhow::Error {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        ApiFailure {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("error").to_owned(),
            message: body["message"]
                .as_str()
                .unwrap_or(status.canonical_reason().unwrap_or("request failed"))
                .to_owned(),
        }
        .into()
    }

    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        } else if method != Method::GET && method != Method::DELETE {
            request = request.json(&serde_json::json!({}));
        }
        let response = request.send().await.map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        if !response.status().is_success() {
            return Err(Self::failure(response).await);
        }
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(serde_json::from_value(Value::Null)?);
        }
        Ok(response.json().await?)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A GET that sends `If-None-Match` and reports `X-Poll-Interval`.
    pub async fn get_conditional<T: DeserializeOwned>(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> anyhow::Result<Fetched<T>> {
        let mut request = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let response = request.send().await.map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        let poll_interval =
            response.headers().get("x-poll-interval").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified { poll_interval });
        }
        if !response.status().is_success() {
            return Err(Self::failure(response).await);
        }
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Fetched::Fresh { body: response.json().await?, etag, poll_interval })
    }
}
