//! The 1 KiB `order_paid` event of the benches and the load test, and the
//! whole order as a handler types it.

use serde::Deserialize;

/// The 1 KiB event the load test sends too.
pub(crate) const BODY: &[u8] = include_bytes!("../order_paid_1k.json");

/// The whole order.
#[derive(Deserialize)]
pub(crate) struct OrderPaid {
    pub(crate) data: Order,
}

#[derive(Deserialize)]
#[allow(dead_code)] // read by serde; the benches only keep it alive
pub(crate) struct Order {
    order_id: String,
    amount_cents: u64,
    currency: String,
    customer: Customer,
    items: Vec<Item>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Customer {
    id: String,
    email: String,
    name: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    sku: String,
    name: String,
    quantity: u32,
    price_cents: u64,
}
