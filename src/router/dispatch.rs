//! What the router does with each request: the shared pipeline up to a
//! verified delivery, then the route, the claim, the handler and the answer,
//! inside one tracing span.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use tracing::field::Empty;
use tracing::Instrument as _;

use super::batch::BatchAnswer;
use super::{Inner, PayloadMismatch, WebhookRouter};
use crate::ack::Ack;
use crate::body::hold_until_sent;
use crate::dedupe::claims::{Claimed, Identity};
use crate::handler::{Failure, Handler, Incoming};
use crate::metrics::{self, ClaimInFlight};
use crate::payload::PayloadError;
use crate::pipeline::{request_view, Arrival, Received};
use crate::rejection::{reply_response, Rejection};
use crate::scheme::{Answers, EventNameError, Reply};

impl WebhookRouter {
    /// The router's work for a delivery that is already verified: event
    /// name, claim of `id`, handler, acknowledgement; what
    /// `benches/dispatch.rs` measures without HTTP around it. Only with the
    /// `bench` feature, and not part of the stable API.
    #[cfg(feature = "bench")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bench")))]
    pub async fn dispatch_verified(
        &self,
        req: &HttpRequest,
        body: &Bytes,
        id: &str,
    ) -> HttpResponse {
        let identity = self.inner.claims.identity(None, Some(id.into()), None);
        let view = crate::pipeline::request_view(req, body);
        let event = self.inner.config.find_event_name(&view);
        let mut tally = Tally::default();
        let (response, outcome) = match self
            .dispatch(req, body.clone(), identity, event, None, &mut tally)
            .await
        {
            Ok(acked) => Answer::Ack(acked).into_response(),
            Err((rejection, _)) => (rejection.error_response(), rejection.code()),
        };
        self.count(&tally, outcome, response.status());
        response
    }

    /// Answers one request: the whole pipeline, inside a tracing span.
    pub(super) async fn respond(self, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
        let span = tracing::info_span!(
            "webhook",
            scheme = self.inner.config.scheme().name(),
            id = Empty,
            event = Empty,
            outcome = Empty,
            secret = Empty,
        );
        async {
            let mut tally = Tally::default();
            let answers = self.inner.config.scheme().answers();
            let (response, outcome) = match self.deliver(&req, &mut payload, &mut tally).await {
                Ok(answer) => {
                    let (response, outcome) = answer.into_response();
                    (fit(response, answers), outcome)
                }
                Err((rejection, id)) => {
                    rejection.log(id.as_deref());
                    let response = fit(rejection.error_response(), answers);
                    let response = match rejection {
                        // Keep the rest of the body unread until the answer
                        // is out, so the connection is closed instead of
                        // drained.
                        Rejection::PayloadTooLarge { .. } | Rejection::BodyTimeout { .. } => {
                            hold_until_sent(response, payload)
                        }
                        _ => response,
                    };
                    (response, rejection.code())
                }
            };
            tracing::Span::current().record("outcome", outcome);
            tracing::debug!(status = response.status().as_u16(), "webhook answered");
            self.count(&tally, outcome, response.status());
            response
        }
        .instrument(span)
        .await
    }

    /// The shared pipeline up to a verified delivery, then [`dispatch`].
    ///
    /// [`dispatch`]: Self::dispatch
    async fn deliver<'r>(
        &'r self,
        req: &HttpRequest,
        payload: &mut web::Payload,
        tally: &mut Tally<'r>,
    ) -> Result<Answer, (Rejection, Option<Arc<str>>)> {
        let inner = &*self.inner;
        let arrival = match inner.config.receive(req, payload).await {
            Ok(Received::Delivery(arrival)) => arrival,
            Ok(Received::Reply(reply)) => return Ok(Answer::Reply(reply)),
            Err(rejection) => return Err((rejection, None)),
        };
        let Arrival {
            body,
            delivery,
            tenant,
            event,
        } = arrival;
        let batch = inner.config.scheme().batch(&request_view(req, &body));
        if let Some(events) = batch {
            let events = events.map_err(|error| (Rejection::InvalidPayload(error), None))?;
            return self
                .dispatch_batch(req, &body, tenant, events, delivery.timestamp, tally)
                .await;
        }
        let identity = inner
            .claims
            .identity(tenant, delivery.id, delivery.fingerprint);
        if let Some(shown) = &identity.shown {
            tracing::Span::current().record("id", &**shown);
        }
        self.dispatch(req, body, identity, event, delivery.timestamp, tally)
            .await
            .map(Answer::Ack)
    }

    /// Counts an answer in the metrics.
    fn count(&self, tally: &Tally<'_>, outcome: &'static str, status: StatusCode) {
        let scheme = self.inner.config.scheme().name();
        metrics::answered(scheme, tally.event, outcome, status.as_u16(), tally.handler);
    }

    /// The router's work for a verified delivery: finds the handler for its
    /// event name, claims the delivery, runs the handler and settles the
    /// claim.
    pub(super) async fn dispatch<'r>(
        &'r self,
        req: &HttpRequest,
        body: Bytes,
        identity: Identity,
        event: Result<Option<String>, EventNameError>,
        timestamp: Option<i64>,
        tally: &mut Tally<'r>,
    ) -> Result<Acked, (Rejection, Option<Arc<str>>)> {
        let inner = &*self.inner;
        let span = tracing::Span::current();
        let Identity {
            id,
            shown,
            key,
            #[cfg(feature = "inbox")]
            tenant,
            ..
        } = identity;
        let with_id = |rejection: Rejection| (rejection, shown.clone());

        // `None`: a scheme whose deliveries may carry no event name (Twilio's
        // messages), routed to `*` or the fallback only.
        let name = match event.map_err(|e| with_id(e.into()))? {
            Some(name) if name.is_empty() => {
                return Err(with_id(Rejection::InvalidPayload(PayloadError::missing(
                    "event name (it is empty)",
                ))))
            }
            name => name.unwrap_or_default(),
        };
        let route = inner.routes.find(&name);
        tally.event = route.label;
        // A name routed exactly shares the route's copy.
        let name: Arc<str> = route.exact.cloned().unwrap_or_else(|| name.into());
        span.record("event", &*name);

        let Some(handler) = route.handler else {
            // "Why does my handler not run?" is answered here.
            let status = inner.unhandled.status().as_u16();
            if inner.strict {
                tracing::warn!(target: "actix_webhook::router", event = &*name, status, "no handler for the event");
            } else {
                tracing::debug!(target: "actix_webhook::router", event = &*name, status, "no handler for the event");
            }
            return Ok(Acked::new(inner.unhandled.clone(), shown, name));
        };

        let retry_after = inner.config.retry_delay();
        #[cfg(feature = "inbox")]
        if let Some(inbox) = &inner.inbox {
            let key = key.map(|key| key.for_event(&name));
            let mut delivery = crate::inbox::NewDelivery::new(req, body, key, id.as_deref(), &name);
            delivery.tenant = tenant;
            delivery.scheme = inner.config.scheme().name();
            delivery.signed_at = timestamp;
            return self.queue(inbox, delivery, shown, name).await;
        }

        // Claim the delivery so the handler runs once; nothing to recognise
        // it by, no claim.
        let scheme = inner.config.scheme().name();
        let held = match key.map(|key| key.for_event(&name)) {
            Some(key) => match inner.claims.claim(key).await {
                Claimed::Fresh(held) => Some((held, ClaimInFlight::new(scheme))),
                Claimed::InFlight => return Err(with_id(Rejection::InFlight { retry_after })),
                Claimed::Done => return Ok(Acked::new(Ack::duplicate(), shown, name)),
                Claimed::Unavailable => {
                    return Err(with_id(Rejection::Unavailable { retry_after }))
                }
            },
            None => None,
        };

        let incoming = inner.incoming(req.clone(), body, id, name.clone(), timestamp);
        let started = metrics::start();
        let outcome = crate::handler::run(&**handler, incoming).await;
        tally.handler = metrics::since(started);

        if let Some((held, _in_flight)) = held {
            let handled = matches!(&outcome, Ok(ack) if ack.is_final());
            inner.claims.settle(held, handled).await;
        }

        match outcome {
            Ok(ack) => Ok(Acked::new(ack, shown, name)),
            Err(Failure::Rejected(Rejection::InvalidPayload(error)))
                if error.is_mismatch() && inner.payload_mismatch == PayloadMismatch::Retry =>
            {
                Err(with_id(Rejection::PayloadMismatch(error)))
            }
            Err(Failure::Rejected(rejection)) => Err(with_id(rejection)),
            Err(Failure::Error(message)) => {
                handler_failed(&**handler, shown.as_deref(), &name, &message);
                Err(with_id(Rejection::HandlerFailed))
            }
        }
    }

    /// Inbox mode: stores `delivery` and answers `queued`, or `duplicate`
    /// when it is stored already.
    #[cfg(feature = "inbox")]
    async fn queue(
        &self,
        inbox: &crate::inbox::Inbox,
        delivery: crate::inbox::NewDelivery,
        shown: Option<Arc<str>>,
        name: Arc<str>,
    ) -> Result<Acked, (Rejection, Option<Arc<str>>)> {
        let shown = if delivery.id_assigned {
            Some(delivery.id.as_str().into())
        } else {
            shown
        };
        match inbox.enqueue(delivery).await {
            Ok(true) => Ok(Acked::new(Ack::queued(), shown, name)),
            Ok(false) => Ok(Acked::new(Ack::duplicate(), shown, name)),
            Err(error) => {
                tracing::error!(target: "actix_webhook::inbox", %error, "storing a delivery failed");
                metrics::store_error(metrics::StoreKind::Inbox, "enqueue");
                let retry_after = self.inner.config.retry_delay();
                Err((Rejection::Unavailable { retry_after }, shown))
            }
        }
    }
}

impl Inner {
    /// A handler's view of a delivery routed as `name`.
    fn incoming(
        &self,
        req: HttpRequest,
        body: Bytes,
        id: Option<Arc<str>>,
        name: Arc<str>,
        timestamp: Option<i64>,
    ) -> Incoming {
        let scheme = self.config.scheme().name();
        Incoming::new(
            req,
            body,
            id,
            name,
            timestamp,
            scheme,
            self.payload_at.clone(),
        )
    }
}

/// `response` as a sender strict about its answers takes it.
fn fit(mut response: HttpResponse, answers: Answers) -> HttpResponse {
    if answers.only_200 && response.status().is_success() {
        *response.status_mut() = StatusCode::OK;
    }
    if answers.no_body {
        response.headers_mut().remove(CONTENT_TYPE);
        return response.set_body(BoxBody::new(()));
    }
    response
}

/// Logs a handler's error (never sent to the sender), inline or from the
/// inbox.
fn handler_failed(handler: &dyn Handler, id: Option<&str>, event: &str, message: &str) {
    tracing::error!(
        target: "actix_webhook::handler",
        handler = handler.name(),
        delivery_id = id.unwrap_or("-"),
        event,
        error = %message,
        "webhook handler failed"
    );
}

#[cfg(feature = "inbox")]
impl crate::inbox::RunStored for WebhookRouter {
    fn event_label<'a>(&'a self, event: &'a str) -> &'a str {
        self.inner.routes.find(event).label
    }

    /// No handler for the event (any more) is the router's unhandled answer.
    fn run_stored<'a>(
        &'a self,
        stored: crate::inbox::StoredDelivery,
        attempt: u32,
        app_data: &'a [crate::inbox::AppData],
    ) -> futures_util::future::LocalBoxFuture<'a, Result<Ack, Failure>> {
        Box::pin(async move {
            let inner = &*self.inner;
            let route = inner.routes.find(&stored.event);
            let Some(handler) = route.handler else {
                tracing::warn!(target: "actix_webhook::router", event = %stored.event, "no handler for a stored delivery's event");
                return Ok(inner.unhandled.clone());
            };
            let name = route
                .exact
                .cloned()
                .unwrap_or_else(|| stored.event.as_str().into());
            let request = stored.request(app_data);
            let id: Arc<str> = stored.id.into();
            let incoming = inner
                .incoming(
                    request,
                    stored.body,
                    Some(id.clone()),
                    name.clone(),
                    stored.signed_at,
                )
                .on_attempt(attempt);
            let outcome = crate::handler::run(&**handler, incoming).await;
            if let Err(Failure::Error(message)) = &outcome {
                handler_failed(&**handler, Some(&crate::ids::shown_id(&id)), &name, message);
            }
            outcome
        })
    }
}

/// What an answer is counted under in the metrics, filled in as the
/// request goes through.
pub(super) struct Tally<'r> {
    /// The route's label (see `crate::metrics`).
    pub(super) event: &'r str,
    /// How long the handler ran, when it did (and metrics are on).
    handler: Option<Duration>,
}

impl Tally<'_> {
    /// Adds the handler time of one event of a batch.
    pub(super) fn add_handler_time(&mut self, event: &Tally<'_>) {
        if let Some(time) = event.handler {
            self.handler = Some(self.handler.unwrap_or_default() + time);
        }
    }
}

impl Default for Tally<'_> {
    fn default() -> Self {
        Self {
            event: metrics::NO_EVENT,
            handler: None,
        }
    }
}

/// A routed delivery's acknowledgement, with its id and event name.
pub(super) struct Acked {
    pub(super) ack: Ack,
    id: Option<Arc<str>>,
    event: Arc<str>,
}

impl Acked {
    fn new(ack: Ack, id: Option<Arc<str>>, event: Arc<str>) -> Self {
        Self { ack, id, event }
    }
}

/// What a request gets when it is not rejected.
pub(super) enum Answer {
    Ack(Acked),
    /// A batch whose events are all done.
    Batch(BatchAnswer),
    Reply(Reply),
}

impl Answer {
    /// The response, and the outcome recorded on the span.
    fn into_response(self) -> (HttpResponse, &'static str) {
        match self {
            Self::Ack(Acked { ack, id, event }) => {
                let response = ack.to_response(id.as_deref(), Some(&event));
                (response, ack.word().unwrap_or("custom"))
            }
            Self::Batch(answer) => answer.into_response(),
            Self::Reply(reply) => (reply_response(reply), "reply"),
        }
    }
}
