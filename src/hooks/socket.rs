//! The socket hook: a live socket owned by the calling component.

use crate::live::status::{Flow, Link};
use crate::protocol::ServerMsg;

/// Keeps a socket open for as long as the calling component lives (in the
/// browser; on the server it does nothing). `path` is asked before every
/// connect; `on_msg` gets each frame and says whether to go on; `on_link`
/// hears how the connection stands.
#[cfg(feature = "hydrate")]
pub fn use_socket(
    path: impl Fn() -> String + 'static,
    on_msg: impl FnMut(ServerMsg) -> Flow + 'static,
    on_link: impl Fn(Link) + 'static,
) {
    use crate::client::socket;
    use leptos::prelude::on_cleanup;
    let wake = socket::wake_events();
    let (task, handle) = futures::future::abortable(socket::run(path, on_msg, on_link, wake));
    leptos::task::spawn_local(async move {
        let _ = task.await;
    });
    on_cleanup(move || handle.abort());
}

#[cfg(not(feature = "hydrate"))]
pub fn use_socket(
    _path: impl Fn() -> String + 'static,
    _on_msg: impl FnMut(ServerMsg) -> Flow + 'static,
    _on_link: impl Fn(Link) + 'static,
) {
}
