//! shopgraph: an embedded knowledge-graph server for e-commerce search and recommendation.
//!
//! See ARCHITECTURE.md for the module map and the rules on what may import what.

pub mod audit;
pub mod auth;
pub mod cf;
pub mod chart;
pub mod cli;
pub mod config;
pub mod engine;
pub mod extract;
pub mod http;
pub mod ingest;
pub mod memory;
pub mod npy;
pub mod ontology;
pub mod pool;
pub mod queries;
pub mod recommend;
pub mod search;
pub mod shacl;
pub mod sparql_fns;
pub mod store;
