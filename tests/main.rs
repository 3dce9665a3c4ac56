//! The one integration-test binary (one link step on a 2-core machine).

mod bad_input;
mod cli;
mod config_meltano;
mod corpus;
mod golden;
mod precommit;
mod support;
