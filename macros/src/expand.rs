//! From the attribute and the function to the generated handler: validate
//! into a [`Webhook`] (collecting every error), then generate it with
//! [`ToTokens`] (in `generate.rs`). On error the output is the errors plus a
//! [`Stub`], so one mistake gives one error.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, LitStr, Pat, PathArguments, Signature, Type,
    Visibility,
};

use crate::args::{Args, Errors};
use crate::generate::Stub;

/// Extractors that read the body, which the router has already read.
const BODY_EXTRACTORS: &[&str] = &["Json", "Bytes", "String", "Payload", "Form", "Verified"];

/// Expands `#[webhook(attr)] item`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: Func = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => return not_a_fn(item),
    };
    let args = (|input: ParseStream<'_>| Args::parse(input, Span::call_site())).parse2(attr);
    match Webhook::new(args, &func) {
        Ok(webhook) => webhook.into_token_stream(),
        Err(error) => {
            let mut out = error.to_compile_error();
            if func.sig.receiver().is_some() {
                // Most likely a method in an `impl` block, where only
                // associated items may follow: leave it as it is.
                func.to_tokens(&mut out);
            } else {
                Stub(&func).to_tokens(&mut out);
            }
            out
        }
    }
}

/// The annotated function, its body kept as tokens: only the signature is
/// checked, and a body that does not parse is left for rustc to report, in
/// generated code that is otherwise complete.
#[derive(Debug)]
pub(crate) struct Func {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) block: Group,
}

impl Parse for Func {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let block: Group = input.parse()?;
        if block.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(
                block.span(),
                "expected the function's body",
            ));
        }
        Ok(Self {
            attrs,
            vis,
            sig,
            block,
        })
    }
}

impl ToTokens for Func {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Self {
            attrs,
            vis,
            sig,
            block,
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #sig #block));
    }
}

/// Not a function: another item gets an error and is left as it is; a
/// function that does not parse is left as it is, so rustc reports the real
/// syntax error.
fn not_a_fn(item: TokenStream) -> TokenStream {
    if syn::parse2::<syn::Item>(item.clone()).is_err() {
        return item;
    }
    let mut out = syn::Error::new(
        Span::call_site(),
        "`#[webhook]` goes on an `async fn`, e.g. `#[webhook(event = \"order_paid\")] async fn order_paid(event: Event<OrderPaid>) {}`",
    )
    .to_compile_error();
    out.extend(item);
    out
}

/// A valid handler, ready to generate.
#[derive(Debug)]
pub(crate) struct Webhook<'a> {
    pub(crate) func: &'a Func,
    pub(crate) events: Vec<LitStr>,
    /// The first parameter's type, and whether it is `Event<Bytes>`.
    pub(crate) event: (&'a Type, bool),
    /// The other parameters' types.
    pub(crate) extractors: Vec<&'a Type>,
}

impl<'a> Webhook<'a> {
    /// Checks the arguments and the function, reporting every mistake.
    pub(crate) fn new(args: syn::Result<Args>, func: &'a Func) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let events = args.map(|args| args.events).unwrap_or_else(|error| {
            errors.push(error);
            Vec::new()
        });
        let sig = &func.sig;
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span,
                "`#[webhook]` handlers must be `async fn`",
            ));
        }
        if let Some(unsafety) = sig.unsafety {
            errors.push(syn::Error::new(
                unsafety.span,
                "`#[webhook]` handlers cannot be `unsafe`",
            ));
        }
        if let Some(abi) = &sig.abi {
            errors.push(syn::Error::new_spanned(
                abi,
                "`#[webhook]` handlers cannot be `extern`",
            ));
        }
        if !sig.generics.params.is_empty() {
            errors.push(generic(&sig.generics));
        } else if let Some(clause) = &sig.generics.where_clause {
            errors.push(generic(clause));
        }

        let mut types = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                    receiver,
                    "`#[webhook]` handlers cannot take `self`",
                )),
                FnArg::Typed(arg) => {
                    if let Some(binding) = binds(&arg.pat, &sig.ident) {
                        errors.push(syn::Error::new(
                            binding.span(),
                            format!(
                                "a parameter cannot be named like the handler: `#[webhook]` makes `{}` a unit struct; rename the parameter",
                                sig.ident,
                            ),
                        ));
                    }
                    types.push(&*arg.ty);
                }
            }
        }
        let first_is_event = types.first().is_some_and(|ty| is_named(ty, "Event"));
        for (i, ty) in types.iter().enumerate() {
            if let Err(error) = check_param(ty, i, first_is_event) {
                errors.push(error);
            }
        }
        let Some((&first, extractors)) = types.split_first() else {
            if sig.receiver().is_none() {
                errors.push(syn::Error::new(
                    sig.paren_token.span.join(),
                    "`#[webhook]` handlers take an `Event<T>` first",
                ));
            }
            return Err(errors.into_error());
        };
        errors.finish(Self {
            func,
            events,
            event: (first, is_raw_event(first)),
            extractors: extractors.to_vec(),
        })
    }
}

/// The binding named `name` in a parameter pattern, if any: it would be read
/// as the unit struct of the same name instead.
pub(crate) fn binds<'p>(pat: &'p Pat, name: &Ident) -> Option<&'p Ident> {
    match pat {
        Pat::Ident(pat) if pat.ident == *name => Some(&pat.ident),
        Pat::Ident(pat) => pat.subpat.as_ref().and_then(|(_, sub)| binds(sub, name)),
        Pat::Tuple(pat) => pat.elems.iter().find_map(|pat| binds(pat, name)),
        Pat::TupleStruct(pat) => pat.elems.iter().find_map(|pat| binds(pat, name)),
        Pat::Slice(pat) => pat.elems.iter().find_map(|pat| binds(pat, name)),
        Pat::Struct(pat) => pat.fields.iter().find_map(|field| binds(&field.pat, name)),
        Pat::Reference(pat) => binds(&pat.pat, name),
        Pat::Paren(pat) => binds(&pat.pat, name),
        Pat::Type(pat) => binds(&pat.pat, name),
        _ => None,
    }
}

fn generic(tokens: impl ToTokens) -> syn::Error {
    syn::Error::new_spanned(tokens, "`#[webhook]` handlers cannot be generic")
}

/// Mistakes the compiler would report less clearly: a generic or borrowed
/// parameter, `Event<T>` not first, an extractor reading the body.
fn check_param(ty: &Type, index: usize, first_is_event: bool) -> syn::Result<()> {
    let fail = |message: &str| Err(syn::Error::new_spanned(ty, message));
    match ty {
        Type::ImplTrait(_) => return fail("`#[webhook]` handlers cannot be generic"),
        Type::Reference(_) => {
            return fail("`#[webhook]` handlers take their parameters by value, not by reference")
        }
        _ => {}
    }
    if index == 0 {
        // The compiler checks `FromDelivery`, with its own message.
        return Ok(());
    }
    let Some(name) = last_segment(ty) else {
        return Ok(());
    };
    if name == "Event" {
        if first_is_event {
            return fail("a `#[webhook]` handler takes one `Event<T>`");
        }
        return fail("`Event<T>` must be the first parameter of a `#[webhook]` handler");
    }
    if BODY_EXTRACTORS.iter().any(|body| name == body) {
        return fail("the body is already read by the router; take it from the `Event`");
    }
    Ok(())
}

/// The last segment of a type's path: `Event` for `actix_webhook::Event<T>`,
/// `Bytes` for `web::Bytes`.
fn last_segment(ty: &Type) -> Option<Ident> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.unraw())
        }
        Type::Paren(inner) => last_segment(&inner.elem),
        Type::Group(inner) => last_segment(&inner.elem),
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|ident| ident == name)
}

/// `Event<Bytes>` (any path ending in `Bytes`): the raw payload, not JSON.
fn is_raw_event(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(event) = path.path.segments.last() else {
        return false;
    };
    if event.ident.unraw() != "Event" {
        return false;
    }
    let PathArguments::AngleBracketed(args) = &event.arguments else {
        return false;
    };
    matches!(
        args.args.first(),
        Some(GenericArgument::Type(payload)) if args.args.len() == 1 && is_named(payload, "Bytes")
    )
}

/// `T`'s span and `Event<T>` rebuilt with every token outside `T` spanned at
/// `T`, so that the compiler's error about `T` points at `T`.
pub(crate) fn payload_spanned(ty: &Type) -> Option<(Span, TokenStream)> {
    let Type::Path(path) = ty else { return None };
    let event = path.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &event.arguments else {
        return None;
    };
    let (Some(GenericArgument::Type(payload)), 1) = (args.args.first(), args.args.len()) else {
        return None;
    };
    if path.qself.is_some() || event.ident.unraw() != "Event" {
        return None;
    }
    let span = payload.span();
    let mut head = path.path.clone();
    head.segments.last_mut()?.arguments = PathArguments::None;
    let head = respan(head.into_token_stream(), span);
    Some((span, quote_spanned!(span=> #head < #payload >)))
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                token = Group::new(group.delimiter(), respan(group.stream(), span)).into();
            }
            token.set_span(span);
            token
        })
        .collect()
}
