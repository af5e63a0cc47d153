//! The AWS SDK clients: one shared configuration (credentials, region,
//! timeouts, retries) and an endpoint chosen for each client on its own, so
//! a local server serves both DynamoDB and its Streams.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::server::store::StoreError;

/// The SDK configuration: the standard credential chain, a region from
/// `AWS_REGION_NAME` (the original app's name) or the standard chain, and
/// operation and attempt timeouts on every call. `endpoint`, when given, is
/// the shared default; clients made by [`Endpoints::dynamodb_client`] and
/// [`Endpoints::streams_client`] set their own, which wins.
pub async fn sdk_config(
    timeout: Duration,
    endpoint: Option<&str>,
) -> Result<SdkConfig, StoreError> {
    let seed_region = std::env::var("AWS_REGION_NAME")
        .ok()
        .map(|r| r.trim().trim_matches('"').to_string())
        .filter(|r| !r.is_empty())
        .map(Region::new);
    let region = RegionProviderChain::first_try(seed_region).or_default_provider();
    let timeouts = TimeoutConfig::builder()
        .operation_timeout(timeout)
        .operation_attempt_timeout(timeout / 3)
        .connect_timeout((timeout / 3).min(Duration::from_secs(2)))
        .read_timeout(timeout / 3)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader
        .region(region)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    if config.region().is_none() {
        return Err(StoreError::Misconfigured(
            "no AWS region: set AWS_REGION or AWS_REGION_NAME".into(),
        ));
    }
    Ok(config)
}

/// A DynamoDB client with the shared configuration and the endpoint
/// chosen as the server chooses it (`endpoint` is this server's own
/// setting, `TRAVOIQ_DYNAMODB_ENDPOINT`).
pub async fn table_client(
    timeout: Duration,
    endpoint: Option<&str>,
) -> Result<aws_sdk_dynamodb::Client, StoreError> {
    let sdk = sdk_config(timeout, None).await?;
    Ok(Endpoints::from_env(endpoint, None).dynamodb_client(&sdk))
}

/// Where one client sends its requests, and which setting said so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `None`: the SDK's own choice (AWS's regional endpoint, or a profile's).
    pub url: Option<String>,
    pub from: &'static str,
}

/// The endpoints of the DynamoDB and DynamoDB Streams clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub dynamodb: Endpoint,
    pub streams: Endpoint,
}

/// The endpoints asked for: this server's own settings, then the standard
/// AWS variables (read through `env`).
///
/// - DynamoDB: `TRAVOIQ_DYNAMODB_ENDPOINT`, `AWS_ENDPOINT_URL_DYNAMODB`,
///   `AWS_ENDPOINT_URL`, else AWS.
/// - Streams: `TRAVOIQ_DYNAMODB_STREAMS_ENDPOINT`,
///   `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, `AWS_ENDPOINT_URL`; else, when the
///   DynamoDB endpoint was set and is not an AWS address, that one (local
///   DynamoDB-compatible servers serve both on one address); else AWS.
///
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns the AWS variables off,
/// as it does in the SDK.
pub fn resolve_endpoints(
    configured: Option<&str>,
    configured_streams: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Endpoints {
    let set = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let ignore_env = set(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let var = |name: &'static str| {
        if ignore_env {
            None
        } else {
            set(env(name)).map(|url| (url, name))
        }
    };
    let own = |value: Option<&str>, name: &'static str| {
        set(value.map(str::to_string)).map(|url| (url, name))
    };
    let pick = |found: Option<(String, &'static str)>| match found {
        Some((url, from)) => Endpoint {
            url: Some(url),
            from,
        },
        None => Endpoint {
            url: None,
            from: "AWS (the region's endpoint)",
        },
    };
    let dynamodb = pick(
        own(configured, "TRAVOIQ_DYNAMODB_ENDPOINT")
            .or_else(|| var("AWS_ENDPOINT_URL_DYNAMODB"))
            .or_else(|| var("AWS_ENDPOINT_URL")),
    );
    let local_dynamodb = dynamodb
        .url
        .clone()
        .filter(|url| !is_aws_address(url))
        .map(|url| {
            (
                url,
                "the DynamoDB endpoint (a local server serves its Streams too)",
            )
        });
    let streams = pick(
        own(configured_streams, "TRAVOIQ_DYNAMODB_STREAMS_ENDPOINT")
            .or_else(|| var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS"))
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .or(local_dynamodb),
    );
    Endpoints { dynamodb, streams }
}

/// An address of AWS's own (a regional or VPC endpoint), which serves one
/// service only.
fn is_aws_address(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")
}

impl Endpoints {
    /// Reads the process environment.
    pub fn from_env(configured: Option<&str>, configured_streams: Option<&str>) -> Self {
        resolve_endpoints(configured, configured_streams, |name| {
            std::env::var(name).ok()
        })
    }

    /// Logs where each client goes, once at start.
    pub fn log(&self) {
        for (service, endpoint) in [
            ("DynamoDB", &self.dynamodb),
            ("DynamoDB Streams", &self.streams),
        ] {
            tracing::info!(
                service,
                endpoint = endpoint.url.as_deref().unwrap_or("AWS"),
                from = endpoint.from,
                "endpoint"
            );
        }
    }

    pub fn dynamodb_client(&self, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(url) = &self.dynamodb.url {
            config = config.endpoint_url(url);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    pub fn streams_client(&self, sdk: &SdkConfig) -> aws_sdk_dynamodbstreams::Client {
        let mut config = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
        if let Some(url) = &self.streams.url {
            config = config.endpoint_url(url);
        }
        aws_sdk_dynamodbstreams::Client::from_conf(config.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        configured: Option<&str>,
        configured_streams: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Endpoints {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_endpoints(configured, configured_streams, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn a_local_dynamodb_endpoint_serves_streams_too() {
        let e = resolve(
            None,
            None,
            &[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4566")],
        );
        assert_eq!(e.dynamodb.url.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(e.dynamodb.from, "AWS_ENDPOINT_URL_DYNAMODB");
        assert_eq!(e.streams.url.as_deref(), Some("http://127.0.0.1:4566"));
        assert!(e.streams.from.starts_with("the DynamoDB endpoint"));
    }

    #[test]
    fn the_standard_streams_variables_win_in_their_order() {
        let e = resolve(
            None,
            None,
            &[
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://a:1"),
                ("AWS_ENDPOINT_URL", "http://b:2"),
                ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://c:3"),
            ],
        );
        assert_eq!(e.dynamodb.url.as_deref(), Some("http://a:1"));
        assert_eq!(e.streams.url.as_deref(), Some("http://c:3"));
        let e = resolve(
            None,
            None,
            &[
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://a:1"),
                ("AWS_ENDPOINT_URL", "http://b:2"),
            ],
        );
        assert_eq!(e.streams.url.as_deref(), Some("http://b:2"));
        assert_eq!(e.streams.from, "AWS_ENDPOINT_URL");
    }

    #[test]
    fn this_servers_settings_win_over_the_environment() {
        let e = resolve(
            Some("http://mine:1"),
            Some("http://mine:2"),
            &[
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://a:1"),
                ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://c:3"),
            ],
        );
        assert_eq!(e.dynamodb.url.as_deref(), Some("http://mine:1"));
        assert_eq!(e.streams.url.as_deref(), Some("http://mine:2"));
        // Only the DynamoDB one set here: Streams follows it when local.
        let e = resolve(Some("http://localhost:8000"), None, &[]);
        assert_eq!(e.streams.url.as_deref(), Some("http://localhost:8000"));
    }

    #[test]
    fn an_aws_dynamodb_endpoint_is_not_used_for_streams() {
        let vpce = "https://vpce-1a2b.dynamodb.us-east-1.vpce.amazonaws.com";
        let e = resolve(None, None, &[("AWS_ENDPOINT_URL_DYNAMODB", vpce)]);
        assert_eq!(e.dynamodb.url.as_deref(), Some(vpce));
        assert_eq!(e.streams.url, None);
    }

    #[test]
    fn nothing_set_means_aws_and_blanks_count_as_unset() {
        let e = resolve(Some("  "), None, &[("AWS_ENDPOINT_URL", "")]);
        assert_eq!(e.dynamodb.url, None);
        assert_eq!(e.streams.url, None);
    }

    #[test]
    fn the_sdk_switch_to_ignore_endpoint_variables_is_honoured() {
        let e = resolve(
            None,
            None,
            &[
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://a:1"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ],
        );
        assert_eq!(e.dynamodb.url, None);
        assert_eq!(e.streams.url, None);
    }
}
