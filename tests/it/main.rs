//! The one integration-test binary: loading and cleaning, golden queries, the HTTP API in
//! process, and the real binary on a port.

mod auth;
mod binary;
mod browser;
mod clients;
mod common;
mod corpus;
mod extract;
mod faults;
mod finetune;
mod fusion;
mod golden;
mod http;
mod load;
mod ontology;
mod properties;
mod protocol;
mod queue;
mod reason;
mod recommend;
mod search;
mod validate;
