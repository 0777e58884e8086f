//! The `#[webhook]` attribute of `actix-webhook`; use it through
//! `actix_webhook::webhook`.
//!
//! Three steps, three modules: `args` parses the attribute, `expand`
//! validates the function into a model (collecting every mistake) and
//! generates the handler. Event patterns are checked with the
//! `actix-webhook-pattern` crate, the grammar the router parses them with.
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod expand;
mod generate;

/// Turns an `async fn` into a webhook handler that `WebhookRouter::handler`
/// accepts.
///
/// # Syntax
///
/// ```text
/// #[webhook(event = "PATTERN")]
/// #[webhook(events = ["PATTERN", "PATTERN", ...])]
/// async fn NAME(event: Event<T>, EXTRACTOR, ...) -> RETURN { ... }
/// ```
///
/// A pattern is one of:
///
/// - an event name: `order_paid`, `issues.opened` (GitHub's event and
///   action), `orders/create`, `app:uninstalled` — letters, digits and
///   `._-:/`, no empty segment between dots. A bare name (no dot) also
///   matches its actions: `issues` handles `issues`, `issues.opened`,
///   `issues.closed`, ..., as `on("issues")` does in `@octokit/webhooks`;
///   a name with a dot matches itself only;
/// - a prefix: `order.*` matches `order.paid` and `order.item.added`, but not
///   `order` itself; `*` may only end a pattern, as a whole last segment;
/// - `*` alone: every event.
///
/// The grammar is defined once, with every rule and the list of valid and
/// invalid patterns it is tested against, in the crate docs of
/// `actix-webhook-pattern`, an internal part of `actix-webhook`; the router
/// parses patterns with it too, so what compiles here is what the router
/// accepts.
///
/// Invalid patterns are compile errors, and so is a pattern that another in
/// the same list already matches (`events = ["issues", "issues.opened"]`).
/// When patterns of several handlers match an event the router picks the
/// most specific: the exact name, then the longest prefix (a bare name's
/// `issues.` counts as one), then `*`. So `issues.opened` in one handler and
/// `issues` in another send GitHub's `issues.opened` to the first and
/// `issues.closed` to the second.
///
/// # Arguments
///
/// - `event = "..."`: the one pattern the handler handles.
/// - `events = ["...", ...]`: several patterns (at least one, none twice).
///
/// Give exactly one of the two.
///
/// # Handler signature
///
/// - `async fn`, not generic, no `self`.
/// - The first parameter is `Event<T>`: the verified delivery with its
///   payload parsed as `T` (any `serde::de::DeserializeOwned` type, e.g. your
///   own `#[derive(Deserialize)]` struct or `serde_json::Value`), or
///   `Event<Bytes>` for the raw payload. `Event<T>` derefs to `T`.
/// - Further parameters are actix-web extractors that do not read the body:
///   `web::Data<T>`, `HttpRequest`, `web::Path<T>`, `web::Query<T>`,
///   `web::Header<T>`, your own `FromRequest` types. `Json`, `Bytes`,
///   `String`, `Payload`, `Form` and `Verified` are rejected: the router has
///   already read the body, take it from the `Event`.
/// - Parameters may be patterns: `web::Query(params): web::Query<Params>`.
/// - No parameter may have the function's name (`async fn config(config:
///   ...)`): that name becomes a unit struct, which a pattern would match
///   instead of binding. The same holds for another handler's name in the
///   same module.
///
/// The function becomes a unit struct of the same name and visibility (the
/// value you register) and stays callable, as written, as `NAME::handle`:
///
/// ```
/// use actix_webhook::{webhook, Ack, Event};
///
/// #[webhook(event = "order_paid")]
/// async fn order_paid(event: Event<serde_json::Value>) -> Ack {
///     Ack::processed()
/// }
///
/// # fn test(event: Event<serde_json::Value>) {
/// let ack = order_paid::handle(event); // a future of `Ack`
/// # }
/// ```
///
/// Doc comments go on the struct; other attributes (`#[allow]`,
/// `#[tracing::instrument]`, ...) stay on `handle`.
///
/// # Responses
///
/// What the sender gets, from the handler's return type:
///
/// | returns | response |
/// |---|---|
/// | `()` | 200 `{"status":"processed",...}` |
/// | `Ack` | that acknowledgement (`Ack::processed()`, `Ack::retry_after(..)`, ...) |
/// | `Result<(), E>` / `Result<Ack, E>`, `E: Display` | `Ok` as above; `Err` is logged and answered 500, so the sender retries |
///
/// A payload that does not parse as `T` is answered 400 `invalid_payload`
/// without running the handler; an extractor that fails, or a handler that
/// panics, is answered 500. A failed delivery is not marked done, so the
/// sender's retry runs the handler again.
///
/// # Examples
///
/// ```
/// use actix_web::{web, App};
/// use actix_webhook::{scheme::StandardWebhooks, webhook, Ack, Event, WebhookRouter};
/// use serde::Deserialize;
/// # use std::sync::Mutex;
/// # #[derive(Default)]
/// # struct Db(Mutex<Vec<String>>);
/// # impl Db {
/// #     async fn mark_paid(&self, order: &str) -> Result<(), std::io::Error> {
/// #         self.0.lock().unwrap().push(order.to_owned());
/// #         Ok(())
/// #     }
/// # }
///
/// #[derive(Deserialize)]
/// struct OrderPaid {
///     order_id: String,
/// }
///
/// /// Marks the order paid.
/// #[webhook(event = "order_paid")]
/// async fn order_paid(event: Event<OrderPaid>, db: web::Data<Db>) -> Result<Ack, std::io::Error> {
///     db.mark_paid(&event.order_id).await?;
///     Ok(Ack::processed())
/// }
///
/// /// Logs every other `order.` event, and refunds.
/// #[webhook(events = ["order.*", "refund.created"])]
/// async fn order_events(event: Event<serde_json::Value>) {
///     tracing::info!(name = event.name(), "order event");
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// # let db = web::Data::new(Db::default());
/// let hooks = WebhookRouter::new(StandardWebhooks::new(secret)?)
///     .handler(order_paid)
///     .handler(order_events);
/// let app = App::new().app_data(db).service(hooks.scope("/webhooks"));
/// # drop(app);
/// # Ok(())
/// # }
/// ```
///
/// Set `ACTIX_WEBHOOK_MACROS_DEBUG=1` while building to print each expansion
/// to stderr.
#[proc_macro_attribute]
pub fn webhook(args: TokenStream, item: TokenStream) -> TokenStream {
    let expanded = expand::expand(args.into(), item.into());
    if std::env::var_os("ACTIX_WEBHOOK_MACROS_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("#[webhook] expansion:\n{expanded}\n");
    }
    expanded.into()
}
