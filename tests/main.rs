//! The one integration-test binary (one link step on a 2-core machine).

mod bad_input;
mod cli;
mod corpus;
mod golden;
mod lock;
mod precommit;
mod support;
