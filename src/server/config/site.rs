//! Leptos's own settings (where the server listens, where the built site
//! is, the browser bundle's name), whichever way the binary was built.
//!
//! Leptos takes the bundle's name from `LEPTOS_OUTPUT_NAME` at compile
//! time: cargo-leptos sets it, and so does `.cargo/config.toml` for a plain
//! `cargo build` or `cargo bench`. A binary built without it would serve
//! pages that load bundles under names nobody wrote (`/pkg/.js`,
//! `/pkg/…_bg.wasm`), so it refuses to start instead, saying why.

use leptos::config::{get_config_from_str, get_configuration, LeptosOptions};

use super::ConfigError;

const CARGO_TOML: &str = include_str!("../../../Cargo.toml");

/// The bundle name this binary was compiled with.
pub const COMPILED_OUTPUT_NAME: Option<&str> = option_env!("LEPTOS_OUTPUT_NAME");

/// The options the server runs with; `LEPTOS_*` variables override them.
pub fn leptos_options() -> Result<LeptosOptions, ConfigError> {
    let compiled = COMPILED_OUTPUT_NAME.unwrap_or_default().trim();
    if compiled.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "this binary was built without LEPTOS_OUTPUT_NAME, so its pages would load a \
             browser bundle that does not exist; build it with `cargo leptos build --release`, \
             or with cargo from the repository's directory (.cargo/config.toml sets it to {:?})",
            metadata_output_name().unwrap_or_default()
        )));
    }
    let options = get_configuration(None)
        .map_err(|e| ConfigError::Invalid(format!("LEPTOS_* settings: {e}")))?
        .leptos_options;
    if *options.output_name != *compiled {
        return Err(ConfigError::Invalid(format!(
            "LEPTOS_OUTPUT_NAME={} at run time, but this binary was built for {compiled:?}: \
             unset it",
            options.output_name
        )));
    }
    Ok(options)
}

/// `output-name` in Cargo.toml's `[package.metadata.leptos]`, as
/// cargo-leptos reads it.
pub fn metadata_output_name() -> Option<String> {
    get_config_from_str(CARGO_TOML)
        .ok()
        .map(|o| o.output_name.to_string())
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

    /// `.cargo/config.toml` and Cargo.toml name the same bundle (cargo-leptos
    /// builds it under the second name).
    #[test]
    fn the_compiled_name_is_the_one_cargo_leptos_builds() {
        let metadata = get_config_from_str(CARGO_TOML).expect("metadata");
        assert_eq!(&*metadata.output_name, "travoiq-monitor");
        assert_eq!(COMPILED_OUTPUT_NAME, Some("travoiq-monitor"));
        assert_eq!(&*metadata.site_pkg_dir, "pkg");
        assert_eq!(&*metadata.site_root, "target/site");
    }
}
