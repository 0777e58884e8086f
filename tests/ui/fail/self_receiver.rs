use actix_webhook::{webhook, Event};
use serde_json::Value;

struct Hooks;

impl Hooks {
    #[webhook(event = "order_paid")]
    async fn order_paid(&self, _event: Event<Value>) {}
}

fn main() {
    let _ = Hooks;
}
