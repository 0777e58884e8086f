//! Extractors after the `Event`, including destructuring patterns.

use std::collections::HashMap;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpRequest};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

struct Db;

#[derive(Deserialize)]
struct Params {
    tenant: String,
}

#[webhook(event = "data")]
async fn data(_event: Event<Value>, _db: web::Data<Db>) {}

#[webhook(event = "request")]
async fn request(event: Event<Value>, req: HttpRequest) -> Ack {
    assert_eq!(req.path(), event.request().path());
    Ack::processed()
}

#[webhook(event = "path")]
async fn path_params(_event: Event<Value>, path: web::Path<(String,)>) {
    let (_tenant,) = path.into_inner();
}

#[webhook(event = "query")]
async fn query(_event: Event<Value>, web::Query(params): web::Query<Params>) {
    let _ = params.tenant;
}

#[webhook(event = "many")]
async fn many(
    _event: Event<Value>,
    _db: web::Data<Db>,
    _req: HttpRequest,
    web::Query(_raw): web::Query<HashMap<String, String>>,
    web::Header(_content_type): web::Header<ContentType>,
    mut _maybe: Option<web::Data<String>>,
) {
}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme)
        .handler(data)
        .handler(request)
        .handler(path_params)
        .handler(query)
        .handler(many);
}
