//! The bar across the top of every page: the product's name and, for a
//! signed-in user, the user bar.

use leptos::either::Either;
use leptos::prelude::*;

use crate::components::user_bar::UserBar;

/// `links_home`: the name is a link back to the dashboard (on pages other
/// than the dashboard). `signed_in`: the page is for a signed-in user, so
/// the bar shows who they are.
#[component]
pub fn TopBar(
    #[prop(optional)] links_home: bool,
    #[prop(optional)] signed_in: bool,
) -> impl IntoView {
    let name = if links_home {
        Either::Left(view! {
            <a href="/" class="home"><span class="brand">"TravoIQ"</span> " Monitor"</a>
        })
    } else {
        Either::Right(view! {
            <span class="brand">"TravoIQ"</span>
            " Monitor"
        })
    };
    view! {
        <header class="topbar">
            <h1>{name}</h1>
            {signed_in.then(|| view! { <UserBar /> })}
        </header>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_bar_renders_as_each_page_wrote_it() {
        Owner::new().with(|| {
            // `<!>` holds the place of the user bar, shown to signed-in users.
            assert_eq!(
                view! { <TopBar /> }.to_html(),
                r#"<header class="topbar"><h1><span class="brand">TravoIQ</span> Monitor</h1><!></header>"#
            );
            assert_eq!(
                view! { <TopBar links_home=true /> }.to_html(),
                r#"<header class="topbar"><h1><a href="/" class="home"><span class="brand">TravoIQ</span> Monitor</a></h1><!></header>"#
            );
        });
    }
}
