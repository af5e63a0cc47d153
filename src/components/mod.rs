//! Reusable pieces of the pages.

pub mod alerts;
pub mod call_card;
pub mod call_view;
pub mod controls;
pub mod downloads;
pub mod find;
pub mod link_list;
pub mod lobby;
pub mod new_call_notice;
pub mod notify;
pub mod row_memo;
pub mod share_link;
pub mod status;
pub mod talk;
pub mod top_bar;
pub mod transcript;
pub mod user_bar;
