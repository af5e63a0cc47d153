//! Settings: defaults from Leptos.toml (compiled in), overridden by
//! `TRAVOIQ_*` environment variables. Independent of the working directory.

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../../Leptos.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub store: StoreKind,
    pub simulator: bool,
    pub simulator_pace: f64,
    pub simulator_call_every_secs: f64,
    pub retain_calls: usize,
    pub heartbeat_secs: u64,
    pub feed_linger_secs: u64,
    pub dev_api: bool,
}

impl Settings {
    /// Loads the compiled-in defaults and applies `TRAVOIQ_*` overrides from
    /// the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(Environment::with_prefix("TRAVOIQ").try_parsing(false))
    }

    /// Loads with overrides from the given key/value pairs instead of the
    /// environment (for tests).
    pub fn load_with(overrides: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        for (key, value) in overrides {
            builder = builder.set_override(*key, *value)?;
        }
        Self::validate(builder.build()?.try_deserialize()?)
    }

    fn load_from(env: Environment) -> Result<Self, ConfigError> {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(env)
            .build()?
            .try_deserialize()?;
        Self::validate(settings)
    }

    fn validate(s: Settings) -> Result<Self, ConfigError> {
        if !(0.0..=1000.0).contains(&s.simulator_pace) || s.simulator_pace == 0.0 {
            return Err(ConfigError::Invalid(format!(
                "simulator_pace must be above 0 and at most 1000, not {}",
                s.simulator_pace
            )));
        }
        if s.simulator_call_every_secs.is_nan() || s.simulator_call_every_secs < 1.0 {
            return Err(ConfigError::Invalid(format!(
                "simulator_call_every_secs must be at least 1, not {}",
                s.simulator_call_every_secs
            )));
        }
        if s.retain_calls == 0 {
            return Err(ConfigError::Invalid(
                "retain_calls must be at least 1".into(),
            ));
        }
        if s.heartbeat_secs == 0 {
            return Err(ConfigError::Invalid(
                "heartbeat_secs must be at least 1".into(),
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_defaults_load() {
        let s = Settings::load_with(&[]).unwrap();
        assert_eq!(s.store, StoreKind::Memory);
        assert!(s.simulator);
        assert!(!s.dev_api);
        assert_eq!(s.simulator_pace, 1.0);
    }

    #[test]
    fn overrides_accept_on_off_and_numbers() {
        let s = Settings::load_with(&[
            ("simulator", "off"),
            ("dev_api", "on"),
            ("simulator_pace", "4"),
        ])
        .unwrap();
        assert!(!s.simulator);
        assert!(s.dev_api);
        assert_eq!(s.simulator_pace, 4.0);
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let err = Settings::load_with(&[("simulator_pace", "0")]).unwrap_err();
        assert!(err.to_string().contains("simulator_pace"), "{err}");
        assert!(Settings::load_with(&[("store", "postgres")]).is_err());
        assert!(Settings::load_with(&[("simulator", "maybe")]).is_err());
    }
}
