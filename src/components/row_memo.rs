//! Memos for the rows of a list that come and go (a long call's bubbles).
//!
//! In leptos 0.8 (reactive_graph 0.2) a memo that is disposed stays in the
//! subscriber list of every memo it read, and that list is copied and
//! walked at each change of its source. A row's memo that reads a memo
//! living as long as the page (the transcript search's hits) therefore
//! costs every later change a little, for good: after scrolling through a
//! 20,000-line call a new line took 57 ms to show instead of 21. These
//! memos leave their sources' lists when their row goes.

use leptos::prelude::*;
use leptos::reactive::graph::{Subscriber, ToAnySubscriber};

/// A memo owned by the current row, unsubscribed from what it read when
/// the row is cleaned up.
pub fn row_memo<T>(f: impl Fn(Option<&T>) -> T + Send + Sync + 'static) -> Memo<T>
where
    T: PartialEq + Send + Sync + 'static,
{
    let memo = ArcMemo::new(f);
    let leaving = memo.clone();
    on_cleanup(move || leaving.clear_sources(&leaving.to_any_subscriber()));
    memo.into()
}
