//! Generating the handler from a validated [`Webhook`]: the unit struct
//! named like the function, its `handle` (the function as written), and its
//! `Handler` impl; or, after an error, a [`Stub`] with the same names.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ReturnType, Signature};

use crate::expand::{binds, payload_spanned, Func, Webhook};

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
