//! From the attribute and the function to the generated handler: validate
//! into a [`Webhook`] (collecting every error), then generate it with
//! [`ToTokens`]. On error the output is the errors plus a [`Stub`], so one
//! mistake gives one error.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, LitStr, Pat, PathArguments, ReturnType, Signature,
    Type, Visibility,
};

use crate::args::{Args, Errors};

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
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    block: Group,
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
    func: &'a Func,
    events: Vec<LitStr>,
    /// The first parameter's type, and whether it is `Event<Bytes>`.
    event: (&'a Type, bool),
    /// The other parameters' types.
    extractors: Vec<&'a Type>,
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
fn binds<'p>(pat: &'p Pat, name: &Ident) -> Option<&'p Ident> {
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
fn payload_spanned(ty: &Type) -> Option<(Span, TokenStream)> {
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

/// The user's attributes, sorted by where they go.
struct Attrs<'a> {
    /// `#[doc]`: on the struct.
    docs: Vec<&'a Attribute>,
    /// `#[cfg]`: on every item.
    cfgs: Vec<&'a Attribute>,
    /// `#[allow]`: on the struct and on `handle`.
    allows: Vec<&'a Attribute>,
    /// Everything else (and `#[allow]`): on `handle`.
    rest: Vec<&'a Attribute>,
}

impl<'a> Attrs<'a> {
    fn sort(attrs: &'a [Attribute]) -> Self {
        let mut sorted = Self {
            docs: Vec::new(),
            cfgs: Vec::new(),
            allows: Vec::new(),
            rest: Vec::new(),
        };
        for attr in attrs {
            let path = attr.path();
            if path.is_ident("doc") {
                sorted.docs.push(attr);
            } else if path.is_ident("cfg") {
                sorted.cfgs.push(attr);
            } else {
                if path.is_ident("allow") {
                    sorted.allows.push(attr);
                }
                sorted.rest.push(attr);
            }
        }
        sorted
    }
}

/// The unit struct named like the function: the value given to the router.
fn unit_struct(func: &Func, tokens: &mut TokenStream) {
    let Attrs {
        docs, cfgs, allows, ..
    } = Attrs::sort(&func.attrs);
    let vis = &func.vis;
    let ident = &func.sig.ident;
    tokens.extend(quote! {
        #(#docs)*
        #(#cfgs)*
        #(#allows)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident;
    });
}

/// `impl name { fn handle }`: the function as written, with `sig`.
fn handle_impl(func: &Func, sig: &Signature, tokens: &mut TokenStream) {
    let Attrs { cfgs, rest, .. } = Attrs::sort(&func.attrs);
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let block = &func.block;
    tokens.extend(quote! {
        #(#cfgs)*
        impl #ident {
            /// The function as written; call it directly in unit tests.
            #(#rest)*
            #vis #sig #block
        }
    });
}

/// The function's signature with the name `handle`.
fn handle_sig(sig: &Signature) -> Signature {
    let mut sig = sig.clone();
    sig.ident = Ident::new("handle", sig.ident.span());
    sig
}

fn cfgs(func: &Func) -> Vec<&Attribute> {
    Attrs::sort(&func.attrs).cfgs
}

/// `LocalBoxFuture<'static, Result<Ack, Failure>>`.
fn call_output() -> TokenStream {
    quote! {
        ::actix_webhook::__private::LocalBoxFuture<
            'static,
            ::core::result::Result<::actix_webhook::Ack, ::actix_webhook::__private::Failure>,
        >
    }
}

impl ToTokens for Webhook<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let func = self.func;
        unit_struct(func, tokens);
        handle_impl(func, &handle_sig(&func.sig), tokens);

        let ident = &func.sig.ident;
        let name = ident.unraw().to_string();
        let events = &self.events;
        let cfgs = cfgs(func);
        let output = call_output();

        // For `Event<T>`, an error about `T` (not `Deserialize`, not the
        // `Bytes` expected) points at `T`.
        let (event_ty, raw) = self.event;
        let (span, event_ty) = payload_spanned(event_ty)
            .unwrap_or_else(|| (event_ty.span(), event_ty.to_token_stream()));
        let event = if raw {
            quote_spanned! {span=>
                let __webhook_arg0: #event_ty =
                    ::actix_webhook::__private::raw_event(__webhook_incoming)?;
            }
        } else {
            // The trait is named directly, not through a helper with a bound,
            // so the error names the trait and not a hidden function.
            quote_spanned! {span=>
                let __webhook_arg0 =
                    <#event_ty as ::actix_webhook::__private::FromDelivery>::from_delivery(
                        __webhook_incoming,
                    )
                    .map_err(::actix_webhook::__private::Failure::Rejected)?;
            }
        };
        let request = (!self.extractors.is_empty()).then(|| {
            quote! {
                let __webhook_req = ::core::clone::Clone::clone(
                    ::actix_webhook::__private::Incoming::request(&__webhook_incoming),
                );
            }
        });
        let names: Vec<_> = (0..=self.extractors.len())
            .map(|i| format_ident!("__webhook_arg{i}"))
            .collect();
        let extract = self.extractors.iter().zip(&names[1..]).map(|(ty, name)| {
            quote_spanned! {ty.span()=>
                let #name =
                    <#ty as ::actix_webhook::__private::Extractor>::extract_from(&__webhook_req)
                        .await?;
            }
        });
        let into_ack = match &func.sig.output {
            ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
                ::actix_webhook::__private::IntoAck::into_ack(__webhook_output)
            },
            ReturnType::Default => quote! {
                ::actix_webhook::__private::IntoAck::into_ack(__webhook_output)
            },
        };

        tokens.extend(quote! {
            #(#cfgs)*
            impl ::actix_webhook::__private::Handler for #ident {
                fn events(&self) -> &'static [&'static str] {
                    &[#(#events),*]
                }

                fn name(&self) -> &'static str {
                    #name
                }

                fn call(&self, __webhook_incoming: ::actix_webhook::__private::Incoming) -> #output {
                    ::std::boxed::Box::pin(async move {
                        #request
                        #event
                        #(#extract)*
                        let __webhook_output = Self::handle(#(#names),*).await;
                        #into_ack
                    })
                }
            }
        });
    }
}

/// What is generated for a function with mistakes: the struct and `handle`
/// (the user's body, so the IDE keeps working on it) and a `Handler` impl
/// that is never run, so registering it adds no second error.
pub(crate) struct Stub<'a>(pub(crate) &'a Func);

impl ToTokens for Stub<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let func = self.0;
        let mut sig = func.sig.clone();
        // An `async fn` as intended, so `.await` in the body is no second error.
        sig.constness = None;
        sig.abi = None;
        sig.asyncness = Some(syn::token::Async(sig.fn_token.span));
        unit_struct(func, tokens);
        let shadowed = func.sig.inputs.iter().any(|input| {
            matches!(input, FnArg::Typed(arg) if binds(&arg.pat, &func.sig.ident).is_some())
        });
        if shadowed {
            // A parameter named like the struct would be read as the struct:
            // keep the function out of its sight, in a block.
            let attrs = &func.attrs;
            let block = &func.block;
            tokens.extend(quote! {
                #[allow(dead_code)]
                const _: () = {
                    #(#attrs)*
                    #sig #block
                };
            });
        } else {
            handle_impl(func, &handle_sig(&sig), tokens);
        }

        let ident = &func.sig.ident;
        let name = ident.unraw().to_string();
        let cfgs = cfgs(func);
        let output = call_output();
        tokens.extend(quote! {
            #(#cfgs)*
            impl ::actix_webhook::__private::Handler for #ident {
                fn events(&self) -> &'static [&'static str] {
                    &[]
                }

                fn name(&self) -> &'static str {
                    #name
                }

                fn call(&self, _: ::actix_webhook::__private::Incoming) -> #output {
                    ::core::unreachable!()
                }
            }
        });
    }
}
