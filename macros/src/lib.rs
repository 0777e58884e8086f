//! The `#[webhook]` attribute of `actix-webhook`; use it through
//! `actix_webhook::webhook`.
#![warn(missing_docs)]

use proc_macro::TokenStream;

/// Turns an `async fn` into a webhook handler (being implemented).
#[proc_macro_attribute]
pub fn webhook(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
