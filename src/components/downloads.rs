//! Links that download the call's transcript as text, CSV or JSON. They
//! are server routes, so `rel="external"`: the router leaves them to the
//! browser. A shared link's grant goes with them, as with the call.

use leptos::prelude::*;

use crate::components::controls::call_path;
use crate::model::CallId;

/// The formats offered: extension and label.
const FORMATS: [(&str, &str); 3] = [("txt", "Text"), ("csv", "CSV"), ("json", "JSON")];

/// Where a call's transcript downloads as `ext`.
pub fn transcript_path(id: &CallId, ext: &str, grant: Option<&str>) -> String {
    let path = format!("{}/transcript.{ext}", call_path(id));
    match grant {
        Some(grant) => format!("{path}?grant={grant}"),
        None => path,
    }
}

#[component]
pub fn Downloads(id: CallId, grant: Option<String>) -> impl IntoView {
    let links = FORMATS
        .into_iter()
        .map(|(ext, label)| {
            let href = transcript_path(&id, ext, grant.as_deref());
            view! {
                <a href=href rel="external" download="" data-testid=format!("download-{ext}")>
                    {label}
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="downloads" aria-label="Download the transcript">
            <span>"Download transcript:"</span>
            {links}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_links_name_the_format_and_keep_a_grant() {
        let id = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        assert_eq!(
            transcript_path(&id, "csv", None),
            "/calls/0f8fad5b-d9cb-469f-a165-70867728950e/transcript.csv"
        );
        assert_eq!(
            transcript_path(&id, "json", Some("abc.1700000000000.x_-9")),
            "/calls/0f8fad5b-d9cb-469f-a165-70867728950e/transcript.json?grant=abc.1700000000000.x_-9"
        );
    }
}
