//! Leptos's own settings (where the server listens, where the built site
//! is, the browser bundle's name), whichever way the binary was built.
//!
//! `cargo leptos build` compiles `LEPTOS_OUTPUT_NAME` into the binary; a
//! plain `cargo build` or `cargo bench` of the same crate does not, and
//! Leptos's `get_configuration(None)` then names the bundle `/pkg/.js`: the
//! page never hydrates. Without that variable (at build or run time) the
//! settings come from `[package.metadata.leptos]` in Cargo.toml, compiled
//! in: the same table cargo-leptos reads, so both builds agree.

use leptos::config::{get_config_from_str, get_configuration, LeptosOptions};

use super::ConfigError;

const CARGO_TOML: &str = include_str!("../../../Cargo.toml");

/// The options the server runs with; `LEPTOS_*` variables override them.
pub fn leptos_options() -> Result<LeptosOptions, ConfigError> {
    let named = |name: Option<&str>| name.is_some_and(|n| !n.trim().is_empty());
    let options = if named(option_env!("LEPTOS_OUTPUT_NAME"))
        || named(std::env::var("LEPTOS_OUTPUT_NAME").ok().as_deref())
    {
        get_configuration(None)
            .map_err(|e| ConfigError::Invalid(format!("LEPTOS_* settings: {e}")))?
            .leptos_options
    } else {
        get_config_from_str(CARGO_TOML).map_err(|e| {
            ConfigError::Invalid(format!("[package.metadata.leptos] in Cargo.toml: {e}"))
        })?
    };
    if options.output_name.trim().is_empty() {
        return Err(ConfigError::Invalid(
            "the browser bundle has no name: set output-name in [package.metadata.leptos] \
             (Cargo.toml) or LEPTOS_OUTPUT_NAME"
                .into(),
        ));
    }
    Ok(options)
}

/// The bundle's script as the site serves it, on disk (for a start-up
/// check that the site was built).
pub fn bundle_script(options: &LeptosOptions) -> std::path::PathBuf {
    std::path::Path::new(&*options.site_root)
        .join(&*options.site_pkg_dir)
        .join(format!("{}.js", options.output_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_toml_names_the_bundle() {
        let options = get_config_from_str(CARGO_TOML).expect("metadata");
        assert_eq!(&*options.output_name, "travoiq-monitor");
        assert_eq!(&*options.site_pkg_dir, "pkg");
        assert_eq!(&*options.site_root, "target/site");
    }
}
